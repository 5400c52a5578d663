"""A real checkout with ignored files, and a session worktree made from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.git import make_repo, write
from trace_sync.bridge.git.worktrees import Worktree, create_worktree

FILES = {
    ".gitignore": ".env\n*.log\nbuild/\n",
    "src/app.py": "".join(f"line {i}\n" for i in range(1, 21)),
    "notes.txt": "keep me\n",
    "old_name.txt": "".join(f"moving line {i}\n" for i in range(1, 31)),
}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The person's checkout (branch ``trunk``) with an ignored ``.env`` beside it."""
    repo = make_repo(tmp_path / "proj", files=FILES)
    write(repo, {".env": "SECRET=1\n", "debug.log": "noise\n"})
    return repo


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def tree(checkout: Path, data_dir: Path) -> Worktree:
    return await create_worktree(checkout, data_dir, "s1", "first-task", "trunk")
