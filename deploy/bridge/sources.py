"""The Debian mirrors this machine's apt uses, as ``mmdebstrap`` takes them.

Both formats apt reads: one-line ``sources.list`` entries and deb822
``*.sources`` stanzas, from ``sources.list`` and ``sources.list.d/``. Only
binary (``deb``) entries for the release and its ``-updates``/``-security``
suites are kept, so third-party repositories there (cloud SDKs, Node) stay out.
"""

from __future__ import annotations

from pathlib import Path


def debian_sources(apt: Path, codename: str) -> list[str]:
    """``deb [signed-by=K] URI SUITE COMPONENTS`` lines for ``codename``, in apt's order."""
    wanted = {codename, f"{codename}-updates", f"{codename}-security"}
    found: list[str] = []
    for path in _files(apt):
        entries = (
            _deb822(path.read_text()) if path.suffix == ".sources" else _one_line(path.read_text())
        )
        for uri, suite, components, key in entries:
            line = f"deb {f'[signed-by={key}] ' if key else ''}{uri} {suite} {components}"
            if suite in wanted and line not in found:
                found.append(line)
    return found


Entry = tuple[str, str, str, str]  # uri, suite, components, signed-by


def _files(apt: Path) -> list[Path]:
    listed = [apt / "sources.list"] if (apt / "sources.list").is_file() else []
    folder = apt / "sources.list.d"
    if folder.is_dir():
        listed += sorted(p for p in folder.iterdir() if p.suffix in (".list", ".sources"))
    return listed


def _one_line(text: str) -> list[Entry]:
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        options, words = _options(words[1:])
        if len(words) >= 3:
            entries.append((words[0], words[1], " ".join(words[2:]), options.get("signed-by", "")))
    return entries


def _options(words: list[str]) -> tuple[dict[str, str], list[str]]:
    if not words or not words[0].startswith("["):
        return {}, words
    end = next(i for i, w in enumerate(words) if w.endswith("]"))
    inside = " ".join(words[: end + 1]).strip("[]").split()
    return dict(item.split("=", 1) for item in inside if "=" in item), words[end + 1 :]


def _deb822(text: str) -> list[Entry]:
    entries = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        components = fields.get("components", "")
        key = fields.get("signed-by", "")
        for uri in fields.get("uris", "").split():
            entries += [(uri, suite, components, key) for suite in fields.get("suites", "").split()]
    return entries
