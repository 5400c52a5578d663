"""Looking at and cloning git repositories for ``repo add`` (GitPython).

Git errors are translated here into the shared error tree, with the cause.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import git

from trace_sync.contract.errors import InvalidInput, NotFound
from trace_sync.contract.repo_urls import REMOTE_SCHEMES, is_remote

_FALLBACK_BRANCHES = ("main", "master", "trunk")


@dataclass(frozen=True)
class RepoInfo:
    path: Path
    name: str
    default_branch: str


def inspect_checkout(path: Path) -> RepoInfo:
    """Validate a local checkout and find its default branch."""
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise NotFound(f"no directory at {resolved}")
    try:
        repo = git.Repo(resolved, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise InvalidInput(f"{resolved} is not a git repository") from exc
    with repo:
        if repo.bare:
            raise InvalidInput(f"{resolved} is a bare repository; connect a checkout")
        top = Path(repo.working_tree_dir or resolved)
        return RepoInfo(top, top.name, default_branch(repo))


def is_bare(path: Path) -> bool:
    """True for a bare repository (no working tree): cloned into a checkout, never used as is."""
    try:
        with git.Repo(path.expanduser().resolve()) as repo:
            return bool(repo.bare)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False


def file_url(path: Path) -> str:
    return path.expanduser().resolve().as_uri()


def clone(url: str, destination: Path) -> RepoInfo:
    """Clone ``url`` (a remote URL, or ``file://`` for the server's disk) into
    ``destination`` (which must not exist yet).

    Git may use the URL's own kind of transport only, so a remote that
    redirects or a submodule cannot reach the server's disk, and a
    ``file://`` clone cannot reach the network."""
    file = url.lower().startswith("file://")
    if not (file or is_remote(url)):
        raise InvalidInput(
            f"not a remote git URL: {url!r} (https://, http://, git://, ssh:// or user@host:path)"
        )
    if destination.exists():
        raise InvalidInput(f"{destination} already exists")
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": "file" if file else ":".join(REMOTE_SCHEMES),
        # No one answers a password or host-key prompt on a server: fail instead of hanging.
        "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
    }
    try:
        git.Repo.clone_from(url, destination, env=env).close()
    except git.GitCommandError as exc:
        raise InvalidInput(f"cannot clone {url}: {exc.stderr.strip() or exc}") from exc
    info = inspect_checkout(destination)
    return RepoInfo(info.path, _name_from_url(url), info.default_branch)


def default_branch(repo: git.Repo) -> str:
    """origin's HEAD when known, else the checked-out branch, else a usual name."""
    try:
        head = repo.git.symbolic_ref("refs/remotes/origin/HEAD", quiet=True)
        return str(head).removeprefix("refs/remotes/origin/")
    except git.GitCommandError:
        pass
    if not repo.head.is_detached:
        return repo.active_branch.name
    names = {h.name for h in repo.heads}
    return next((b for b in _FALLBACK_BRANCHES if b in names), "main")


def _name_from_url(url: str) -> str:
    tail = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return tail.removesuffix(".git") or "repo"


def push_url(path: Path) -> str | None:
    """Where pushes from the checkout at ``path`` go: ``origin``'s URL, else the only
    remote's, else None (the bridge pushes to the same remote)."""
    try:
        with git.Repo(path) as repo:
            remotes = {remote.name: remote for remote in repo.remotes}
            chosen = remotes.get("origin") or (
                next(iter(remotes.values())) if len(remotes) == 1 else None
            )
            return None if chosen is None else str(next(iter(chosen.urls), "")) or None
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
        return None
