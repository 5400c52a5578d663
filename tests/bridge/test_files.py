"""File reads and writes stay inside the worktree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trace_sync.bridge.git.files import read_file, write_file
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.contract.errors import InvalidInput, NotFound, TooLarge


async def test_read_and_write_inside_the_worktree(tree: Worktree) -> None:
    assert await write_file(tree.path, "src/deep/new.py", "x = 1\n") == 6
    content = await read_file(tree.path, "src/deep/new.py")
    assert (content.text, content.binary, content.size) == ("x = 1\n", False, 6)
    os.chmod(tree.path / "notes.txt", 0o755)
    await write_file(tree.path, "notes.txt", "rewritten\n")
    assert os.access(tree.path / "notes.txt", os.X_OK)  # the mode is kept
    assert [p.name for p in tree.path.iterdir() if p.name.startswith(".trace")] == []


async def test_binary_files_are_detected(tree: Worktree) -> None:
    await write_file(tree.path, "blob.bin", b"\x00\x01\x02")
    await write_file(tree.path, "latin1.txt", "caf\xe9".encode("latin-1"))
    assert (await read_file(tree.path, "blob.bin")).binary
    latin = await read_file(tree.path, "latin1.txt")
    assert latin.binary and latin.text is None and latin.data == b"caf\xe9"


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "src/../../outside.txt",
        "/etc/passwd",
        ".git",
        ".git/config",
        "src/.GIT/x",
        "",
        "a\0b",
    ],
)
async def test_escapes_and_git_internals_are_refused(tree: Worktree, path: str) -> None:
    with pytest.raises(InvalidInput):
        await read_file(tree.path, path)
    with pytest.raises(InvalidInput):
        await write_file(tree.path, path, "x")


async def test_symlinks_out_of_the_worktree_are_refused(tree: Worktree, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    os.symlink(outside, tree.path / "linked-dir")
    os.symlink(outside / "secret.txt", tree.path / "linked-file")
    os.symlink(outside / "not-yet.txt", tree.path / "dangling")
    os.symlink("notes.txt", tree.path / "inside-link")
    for path in ("linked-dir/secret.txt", "linked-file", "dangling"):
        with pytest.raises(InvalidInput, match="outside the worktree"):
            await read_file(tree.path, path)
        with pytest.raises(InvalidInput, match="outside the worktree"):
            await write_file(tree.path, path, "overwritten\n")
    assert (outside / "secret.txt").read_text() == "secret\n"
    assert not (outside / "not-yet.txt").exists()
    assert (await read_file(tree.path, "inside-link")).text == "keep me\n"


async def test_limits_and_missing_files(tree: Worktree) -> None:
    await write_file(tree.path, "big.txt", "x" * 2000)
    with pytest.raises(TooLarge):
        await read_file(tree.path, "big.txt", limit=1000)
    with pytest.raises(TooLarge):
        await write_file(tree.path, "huge.txt", "x" * 2000, limit=1000)
    with pytest.raises(NotFound):
        await read_file(tree.path, "missing.txt")
    with pytest.raises(InvalidInput, match="not a regular file"):
        await read_file(tree.path, "src")
    with pytest.raises(InvalidInput, match="is a directory"):
        await write_file(tree.path, "src", "x")
    with pytest.raises(InvalidInput, match="is a file"):
        await write_file(tree.path, "notes.txt/inner", "x")
