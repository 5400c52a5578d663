"""A host's own settings, read from ``TRACE_<HOST>_<NAME>`` variables.

Each reader names the variable in its error, so a bad value stops the server
at start with a message saying which one and why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trace_sync.settings import SettingsError

_SIZE = re.compile(r"(\d+)\s*([kmgt]?)i?b?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Options:
    """``TRACE_SANDBOX_DIR=/x`` is ``Options("sandbox", {"dir": "/x"}).text("dir")``."""

    host: str
    values: Mapping[str, str]

    def variable(self, name: str) -> str:
        return f"TRACE_{self.host.upper()}_{name.upper()}"

    def text(self, name: str, default: str = "") -> str:
        return self.values.get(name, "").strip() or default

    def size(self, name: str, default: int | None) -> int | None:
        """Bytes, as ``512M``, ``4G`` or a plain number; ``0``/``off`` for no limit."""
        raw = self.text(name)
        if not raw:
            return default
        if raw.lower() in ("0", "off", "none"):
            return None
        found = _SIZE.fullmatch(raw)
        if found is None:
            raise SettingsError(f"{self.variable(name)} must be a size like 512M or 4G: {raw!r}")
        return int(found.group(1)) * _UNITS[found.group(2).lower()]

    def count(self, name: str, default: int, *, low: int = 1, high: int = 1 << 20) -> int:
        raw = self.text(name)
        if not raw:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise SettingsError(f"{self.variable(name)} must be a number {low}-{high}: {raw!r}")
        return int(raw)

    def seconds(self, name: str, default: float) -> float:
        raw = self.text(name)
        try:
            value = float(raw) if raw else default
        except ValueError as exc:
            raise SettingsError(f"{self.variable(name)} must be seconds: {raw!r}") from exc
        if not 0 < value <= 3600:
            raise SettingsError(f"{self.variable(name)} must be 0-3600 seconds: {raw!r}")
        return value

    def paths(self, name: str) -> tuple[Path, ...]:
        """Absolute paths separated by ``:`` (``~`` expanded)."""
        found = []
        for part in self.text(name).split(os.pathsep):
            if not part.strip():
                continue
            path = Path(part.strip()).expanduser()
            if not path.is_absolute():
                raise SettingsError(f"{self.variable(name)} takes absolute paths: {part!r}")
            found.append(path)
        return tuple(found)

    def names(self, name: str) -> tuple[str, ...]:
        """Environment variable names separated by ``,``."""
        found = tuple(n.strip() for n in self.text(name).split(",") if n.strip())
        for item in found:
            if not _NAME.fullmatch(item):
                raise SettingsError(f"{self.variable(name)} lists variable names: {item!r}")
        return found

    def words(self, name: str) -> tuple[str, ...]:
        """Items separated by ``,`` (e.g. extra ``docker run`` options)."""
        return tuple(w.strip() for w in self.text(name).split(",") if w.strip())
