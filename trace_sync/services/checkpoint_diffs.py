"""What a checkpoint changed, read with git from the repository's copy on the server.

A session's worktree shares the objects and refs of the checkout it was made
from, so when that checkout is the server's (local mode, cloned repos) the
checkpoint commits are there whether or not the runtime is online.
"""

from __future__ import annotations

from pathlib import Path

import git

from trace_sync.contract.errors import Conflict, InvalidInput
from trace_sync.docs.entries import FileChange

_STATUS = {"A": "added", "M": "modified", "D": "deleted", "T": "modified"}


def diff(checkout: Path, commit: str, before: str | None, path: str | None) -> list[FileChange]:
    """Files changed from ``before`` (default: ``commit``'s parent) to ``commit``."""
    if path is not None and (path.startswith("-") or "\0" in path):
        raise InvalidInput(f"not a path in the repository: {path!r}")
    try:
        repo = git.Repo(checkout)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise Conflict(f"the server has no copy of this repository at {checkout}") from exc
    with repo:
        base = before or f"{commit}^"
        try:
            repo.git.cat_file("-e", f"{commit}^{{commit}}")
            spec = [base, commit, "--", *([path] if path else [])]
            statuses = _pairs(repo.git.diff("--no-renames", "--name-status", "-z", *spec))
            counts = _counts(repo.git.diff("--no-renames", "--numstat", "-z", *spec))
            return [
                _change(repo, base, commit, name, status, counts.get(name))
                for status, name in statuses
            ]
        except git.GitCommandError as exc:
            raise Conflict(
                f"checkpoint commit {commit[:12]} is not in the server's copy of the "
                "repository (its runtime holds it; ask again once it syncs)"
            ) from exc


def _pairs(raw: str) -> list[tuple[str, str]]:
    parts = [p for p in raw.split("\0") if p]
    return [(parts[i][:1], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def _counts(raw: str) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for part in (p for p in raw.split("\0") if p):
        added, removed, name = part.split("\t", 2)
        found[name] = (added, removed)
    return found


def _change(
    repo: git.Repo, base: str, commit: str, name: str, status: str, counts: tuple[str, str] | None
) -> FileChange:
    added, removed = counts or ("0", "0")
    binary = added == "-"
    patch = None if binary else str(repo.git.diff("--no-renames", base, commit, "--", name))
    return FileChange(
        path=name,
        status=_STATUS.get(status, "modified"),  # type: ignore[arg-type]
        added=0 if binary else int(added),
        removed=0 if binary else int(removed),
        binary=binary,
        diff=patch,
    )
