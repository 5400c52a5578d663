"""Install pinned npm packages for the tests once, into
``~/.cache/trace-tests/<name>/<lock hash>/`` (``$XDG_CACHE_HOME`` if set).

``tests/js`` holds the real Yjs clients, ``tests/tools`` the real coding-tool
CLIs (Claude Code, Codex, claude-code-acp). Each is installed with ``npm ci``
from its committed lock file, shared by every test, run and checkout until the
lock changes. Not inside the checkout: Codex cannot run its sandbox from a
binary under /tmp (its patches never apply), and checkouts are often there.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from tests.support.parts import missing

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "js"
FILES = ("package.json", "package-lock.json", "client.mjs")
TOOLS = ROOT / "tests" / "tools"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trace-tests"


def require_node(purpose: str = "the JS Yjs client tests") -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node
    missing(f"install Node.js and npm to run {purpose}")


def installed(source: Path, files: tuple[str, ...], cache: str, probe: str) -> Path:
    """``source``'s ``files`` copied beside their ``npm ci``-installed node_modules."""
    digest = hashlib.sha256(b"".join((source / f).read_bytes() for f in files)).hexdigest()[:16]
    target = CACHE / cache / digest
    target.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install once, one at a time
        if not (target / "node_modules" / probe).exists():
            for name in files:
                shutil.copy(source / name, target / name)
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=target,
                check=True,
                capture_output=True,
                timeout=600,
            )
    return target


def js_clients_dir() -> Path:
    """A directory holding client.mjs beside its installed node_modules."""
    require_node()
    return installed(SOURCE, FILES, "js", "yjs")


def coding_tools_bin() -> Path:
    """``node_modules/.bin`` holding the pinned ``claude``, ``codex`` and ``claude-code-acp``."""
    require_node("the coding-tool tests (they install the real CLIs with npm)")
    files = ("package.json", "package-lock.json")
    target = installed(TOOLS, files, "tools", ".bin/claude-code-acp")
    return target / "node_modules" / ".bin"
