"""Real git repositories for tests."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

#: Every test commit has the same author, whatever the machine's git config says.
IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@t")


def make_repo(
    path: Path, branch: str = "trunk", files: Mapping[str, str | bytes] | None = None
) -> Path:
    """A checkout at ``path`` with one commit on ``branch`` (README.md plus ``files``)."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", branch)
    write(path, {"README.md": "hello\n", **(files or {})})
    commit_all(path, "first")
    return path


def git(path: Path, *args: str) -> str:
    """Run git in ``path``; its stripped output."""
    done = subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def write(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write each relative path of ``files`` under ``root`` (parents created)."""
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def commit_all(path: Path, message: str) -> str:
    """Stage everything in the checkout at ``path`` and commit it; the new commit id."""
    git(path, "add", "-A")
    git(path, *IDENTITY, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD")


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (``.git`` aside) with its content: a worktree's state."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }
