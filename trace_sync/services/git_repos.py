"""Looking at and cloning git repositories for ``repo add`` (GitPython).

Git errors are translated here into the shared error tree, with the cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import git

from trace_sync.errors import InvalidInput, NotFound

#: Remote URLs Trace clones: https, ssh (``git@host:path`` or ``ssh://``) and file://.
_REMOTE = re.compile(r"^(https://|ssh://|file://|[\w.-]+@[\w.-]+:)\S+$")
_FALLBACK_BRANCHES = ("main", "master", "trunk")


@dataclass(frozen=True)
class RepoInfo:
    path: Path
    name: str
    default_branch: str


def is_remote(source: str) -> bool:
    return bool(_REMOTE.match(source))


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


def clone(url: str, destination: Path) -> RepoInfo:
    """Clone ``url`` into ``destination`` (which must not exist yet)."""
    if not is_remote(url):
        raise InvalidInput(f"not a remote git URL: {url!r} (https://, ssh:// or git@host:path)")
    if destination.exists():
        raise InvalidInput(f"{destination} already exists")
    try:
        git.Repo.clone_from(url, destination, env={"GIT_TERMINAL_PROMPT": "0"}).close()
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
