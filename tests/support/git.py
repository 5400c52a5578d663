"""Real git repositories for tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_repo(path: Path, branch: str = "trunk") -> Path:
    """A checkout at ``path`` with one commit on ``branch``."""
    path.mkdir(parents=True)
    run = lambda *a: subprocess.run(["git", *a], cwd=path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q", "-b", branch)
    (path / "README.md").write_text("hello\n")
    run("add", ".")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return path
