"""Install the pinned JS test packages once, into ``.cache/js/<lock hash>/``."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "js"
FILES = ("package.json", "package-lock.json", "client.mjs")


def require_node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node
    message = "install Node.js and npm to run the JS Yjs client tests"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def js_clients_dir() -> Path:
    """A directory holding client.mjs beside its installed node_modules."""
    require_node()
    digest = hashlib.sha256(b"".join((SOURCE / f).read_bytes() for f in FILES)).hexdigest()[:16]
    target = ROOT / ".cache" / "js" / digest
    if not (target / "node_modules" / "yjs").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copy(SOURCE / name, target / name)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return target
