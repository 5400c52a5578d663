"""Running git for the runtime (through GitPython), with errors translated.

Every git call of the runtime goes through :func:`git` so that failures
become errors of :mod:`trace_sync.contract.errors` with git's own message attached,
and so that a missing directory is never silently replaced by the current
one (GitPython falls back to the process's cwd when ``cwd`` does not exist).

The modules above this one are synchronous inside and async outside: a
public coroutine runs its whole sequence of git calls in one worker thread
(``asyncio.to_thread``), so the event loop never waits on git.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git as gitpython

from trace_sync.contract.errors import Conflict, NotFound

#: Who checkpoint and merge commits are by when the repository names nobody.
FALLBACK_NAME = "Trace"
FALLBACK_EMAIL = "trace@localhost"


@dataclass(frozen=True)
class Result:
    status: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "surrogateescape").strip()


class GitFailed(Conflict):
    """A git command failed; ``status`` and ``stderr`` say how."""

    def __init__(self, args: Sequence[str], status: int, stderr: str) -> None:
        words = [arg for arg in args if not arg.startswith("-") and "=" not in arg][:1]
        super().__init__(f"git {' '.join(words)} failed ({status}): {stderr.strip()}")
        self.status = status
        self.stderr = stderr


def git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    ok: Sequence[int] = (0,),
    timeout: float | None = None,
) -> Result:
    """Run ``git args`` in ``cwd``; raise :class:`GitFailed` unless the status is in ``ok``.
    After ``timeout`` seconds git (and what it started) is killed."""
    if not cwd.is_dir():
        raise NotFound(f"no directory at {cwd}")
    with _input(stdin) as istream:
        try:
            status, out, err = gitpython.Git(cwd).execute(
                ["git", *args],
                istream=istream,
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=False,
                strip_newline_in_stdout=False,
                env=dict(env or {}),
                kill_after_timeout=timeout,
            )
        except gitpython.GitCommandNotFound as exc:
            raise NotFound("git is not installed (apt install git)") from exc
    if status not in ok:
        raise GitFailed(args, status, err)
    return Result(status, out, err)


def out(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """The stripped text output of ``git args``."""
    return git(cwd, *args, env=env).text


def nul_split(data: bytes) -> list[str]:
    """Entries of ``-z`` output, decoded (undecodable bytes kept as surrogates)."""
    return [part.decode("utf-8", "surrogateescape") for part in data.split(b"\0") if part]


def rev(cwd: Path, name: str) -> str | None:
    """The object id ``name`` points at, or None when it does not exist."""
    result = git(cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", name, ok=(0, 1))
    return result.text or None


def resolve(cwd: Path, name: str) -> str:
    """The object id ``name`` points at; :class:`NotFound` when it does not exist."""
    found = rev(cwd, name)
    if found is None:
        raise NotFound(f"{name} does not exist in {cwd}")
    return found


def identity(cwd: Path) -> dict[str, str]:
    """Author/committer environment: the repository's user, else Trace's own."""
    name = git(cwd, "config", "user.name", ok=(0, 1)).text or FALLBACK_NAME
    email = git(cwd, "config", "user.email", ok=(0, 1)).text or FALLBACK_EMAIL
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def commit_tree(
    cwd: Path,
    tree: str,
    parents: Sequence[str],
    message: str,
    *,
    env: Mapping[str, str] | None = None,
) -> str:
    """A new commit object (no ref moves, no hooks, never a signing prompt)."""
    args = ["commit-tree", "--no-gpg-sign", tree]
    for parent in parents:
        args += ["-p", parent]
    return git(cwd, *args, env={**identity(cwd), **(env or {})}, stdin=message.encode()).text


@contextmanager
def temp_index(cwd: Path) -> Iterator[dict[str, str]]:
    """An environment whose ``GIT_INDEX_FILE`` is a private copy of ``cwd``'s index.

    Copying keeps git's stat cache, so unchanged files are not hashed again;
    the person's own index is only read, never written.
    """
    real = Path(out(cwd, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    with tempfile.TemporaryDirectory(prefix="trace-index-") as scratch:
        path = Path(scratch) / "index"
        if real.exists():
            shutil.copyfile(real, path)
        else:
            git(cwd, "read-tree", "HEAD", env={"GIT_INDEX_FILE": str(path)})
        yield {"GIT_INDEX_FILE": str(path)}


@contextmanager
def _input(data: bytes | None) -> Iterator[int | None]:
    if data is None:
        yield None
        return
    with tempfile.TemporaryFile() as file:
        file.write(data)
        file.seek(0)
        yield file.fileno()
