"""One cloud session's directory on the server's machine, as a host keeps it.

    <root>/<sid>/                  0700, the server's
        bridge/                    the bridge's data dir: the only place it may write
            runtime.json           its runtime credentials (0600), seeded here
            instance-id
            home/                  its HOME (.gitconfig: every repo it sees is trusted)
            repos/<repo id>/       its clone of the session's repo
            worktrees/<sid>/       the session's worktree
        bridge.log                 its output (out of its reach)
        sandbox.json               the running sandbox (bwrap's pid and start time) or
                                   container (pid 0: known by its name), and its
                                   launch but the token (out of its reach); a server
                                   starting on the same data adopts it
        trust.gitconfig            lets the server's git read the bridge's clone

The bridge cannot write to the session's repo (it sees it read-only), so it
works in a clone of it. Its work comes back to the repo when the host stops
it (and before the host starts it again, should the server have died): the
session branch and its checkpoints are fetched from the clone into the repo,
where people see them as with any local session. A merge brings the branch
back at once (:meth:`SessionDir.land`) and is made in the repo by the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import stat
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from trace_sync.bridge.git.checkpoints import REF_PREFIX
from trace_sync.bridge.git.gitexec import GitFailed, git, out, rev
from trace_sync.bridge.git.removals import remove_now
from trace_sync.bridge.git.worktrees import BRANCH_PREFIX
from trace_sync.bridge.hosts import Launch
from trace_sync.bridge.registration import (
    CREDENTIALS_FILE,
    ENVIRONMENT_FILE,
    INSTANCE_FILE,
    RuntimeCredentials,
    write_private,
)
from trace_sync.contract.bridge_protocol import Forget, RepoRef
from trace_sync.contract.errors import Conflict, NotFound

log = logging.getLogger(__name__)

#: The bridge's git trusts the repos it sees: they are read-only to it, and
#: may belong to the server's user when it runs as another.
TRUST_ALL = "[safe]\n\tdirectory = *\n"


class SessionDir:
    def __init__(self, root: Path, session_id: str) -> None:
        self.session_id = session_id
        self.base = root / session_id
        self.data = self.base / "bridge"
        self.home = self.data / "home"
        self.log = self.base / "bridge.log"
        self.record = self.base / "sandbox.json"

    def prepare(
        self,
        launch: Launch,
        owner: tuple[int, int] | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """Make the directories and give the bridge its credentials and the
        ``environment`` its host passes it, owned by ``owner`` (the sandbox's user,
        when it is not the server's)."""
        self.base.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.data.mkdir(exist_ok=True)
        # 0755: bwrap (root, without capabilities) must enter it for the sandbox's
        # user; nobody else can reach it, under the 0700 base.
        self.data.chmod(0o755)
        creds = RuntimeCredentials(
            launch.server_url, launch.runtime_id, launch.token, launch.instance_id
        )
        data = os.open(self.data, _DIR)
        try:
            if owner is not None:
                os.fchown(data, *owner)
            _write(data, CREDENTIALS_FILE, json.dumps(asdict(creds)) + "\n", owner)
            _write(data, INSTANCE_FILE, launch.instance_id + "\n", owner)
            _write(data, ENVIRONMENT_FILE, json.dumps(dict(environment or {})) + "\n", owner)
            home = _directory(data, "home", owner)
            try:
                _write(home, ".gitconfig", TRUST_ALL, owner)
            finally:
                os.close(home)
        finally:
            os.close(data)

    def remember(self, pid: int, started: float, launch: Launch) -> None:
        """Note the sandbox running the session's bridge (all but its token)."""
        repo = launch.repo.model_dump(mode="json") if launch.repo is not None else None
        facts = {"pid": pid, "started": started, "server_url": launch.server_url,
                 "runtime_id": launch.runtime_id, "instance_id": launch.instance_id,
                 "repo": repo, "branch": launch.branch}  # fmt: skip
        write_private(self.record, json.dumps(facts) + "\n")

    def recall(self) -> tuple[int, float, Launch] | None:
        """The sandbox noted by :meth:`remember` (pid, start time, launch without
        its token), or None when there is none (or it cannot be read)."""
        try:
            facts = json.loads(self.record.read_text())
            repo = RepoRef.model_validate(facts["repo"]) if facts["repo"] else None
            launch = Launch(facts["server_url"], facts["runtime_id"], "", self.session_id,
                            facts["instance_id"], repo, facts["branch"])  # fmt: skip
            return int(facts["pid"]), float(facts["started"]), launch
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.warning("a sandbox's record is unreadable", extra={"session": self.session_id})
            return None

    def forget_credentials(self) -> None:
        """The runtime token (and what the host passed) is not left on disk once its
        bridge stopped."""
        for name in (CREDENTIALS_FILE, ENVIRONMENT_FILE):
            (self.data / name).unlink(missing_ok=True)

    def bring_back(self, repo: RepoRef | None, branch: str | None) -> list[str]:
        """Fetch the session branch and checkpoints from the bridge's clone into the
        repo (blocking: run it in a thread); the refs brought back. A failure is
        logged, never raised: the work stays in the clone."""
        if repo is None:
            return []
        clone = (self.data / "repos" / repo.id).resolve()
        if not (clone / ".git").is_dir():
            return []
        if self.data.resolve() not in clone.parents:
            log.warning("a sandbox's clone links out of it", extra={"session": self.session_id})
            return []
        try:
            return self._fetch(Path(repo.path), clone, branch)
        except (GitFailed, NotFound) as exc:
            facts = {"session": self.session_id, "why": str(exc)}
            log.warning("a sandbox's work was not brought back", extra=facts)
            return []

    def land(self, repo: RepoRef, branch: str | None, base: str, commit: str) -> None:
        """The session's branch, at ``commit`` in the bridge's clone, comes back to the
        repo with its checkpoints (blocking), for the server to merge it into ``base``
        there: the clone's own base may be behind the repo's."""
        clone = self._clone(repo)
        if clone is None:
            raise NotFound(f"session {self.session_id} has no clone of {repo.name} here")
        target = Path(repo.path)
        if rev(target, f"refs/heads/{base}") is None:
            raise NotFound(f"no branch {base!r} in {repo.name} to merge into")
        self._fetch(target, clone, branch)
        if branch is None or rev(target, f"refs/heads/{branch}") != commit:
            raise Conflict(f"session {self.session_id}'s branch moved meanwhile; merge again")

    def forget(self, owed: Forget) -> dict[str, Any]:
        """The session was deleted: its directory goes, and what was brought back to
        the repo (checkpoints; the branch unless pushed or merged). Blocking."""
        repo = owed.repo
        checkout = Path(repo.path) if repo is not None and Path(repo.path).is_dir() else None
        base = owed.base_branch or (repo.default_branch if repo is not None else None)
        branch = owed.branch if owed.branch and owed.branch.startswith(BRANCH_PREFIX) else None
        removed = remove_now(checkout, self.data, self.session_id, branch, base)
        shutil.rmtree(self.base, ignore_errors=True)
        return {"state": "done", **removed.as_dict()}

    def _clone(self, repo: RepoRef) -> Path | None:
        clone = (self.data / "repos" / repo.id).resolve()
        if not (clone / ".git").is_dir() or self.data.resolve() not in clone.parents:
            return None
        return clone

    def _fetch(self, target: Path, clone: Path, branch: str | None) -> list[str]:
        env = {"GIT_CONFIG_GLOBAL": str(self._trust(clone))}
        wanted = [f"{REF_PREFIX}/{self.session_id}/"]
        if branch is not None and branch.startswith(BRANCH_PREFIX):
            wanted.append(f"refs/heads/{branch}")
        refs = out(clone, "for-each-ref", "--format=%(refname)", *wanted, env=env).split()
        if refs:
            git(target, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", str(clone),
                *(f"+{ref}:{ref}" for ref in refs), env=env)  # fmt: skip
        return refs

    def _trust(self, clone: Path) -> Path:
        path = self.base / "trust.gitconfig"
        write_private(path, f"[safe]\n\tdirectory = {clone}\n\tdirectory = {clone}/.git\n")
        return path


async def prepare(
    folder: SessionDir,
    launch: Launch,
    owner: tuple[int, int] | None,
    environment: Mapping[str, str] | None = None,
) -> None:
    """:meth:`SessionDir.prepare` in a thread, its OS errors as a :class:`Conflict`."""
    try:
        await asyncio.to_thread(folder.prepare, launch, owner, environment)
    except OSError as exc:
        raise Conflict(f"the bridge's directory {folder.data} could not be made: {exc}") from exc


# What the host writes into the bridge's directory it writes as the server's user
# (root, maybe) into a place the sandbox's user controls: links planted there are
# never followed (O_NOFOLLOW, relative to an opened directory), files made anew.
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


def _directory(parent: int, name: str, owner: tuple[int, int] | None) -> int:
    """``name`` in ``parent`` as a real directory (whatever was there instead goes)."""
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISDIR(os.lstat(name, dir_fd=parent).st_mode):
            os.unlink(name, dir_fd=parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent)
    fd = os.open(name, _DIR, dir_fd=parent)
    if owner is not None:
        os.fchown(fd, *owner)
    return fd


def _write(parent: int, name: str, text: str, owner: tuple[int, int] | None) -> None:
    """A new 0600 file ``name`` in ``parent`` holding ``text``."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=parent)
    fd = os.open(name, _NEW, 0o600, dir_fd=parent)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def bring_back_others(root: Path, running: Iterable[Launch], launch: Launch) -> None:
    """Bring back the work of the other sessions running on the same repo, before
    ``launch``'s bridge clones it: a fork finds its parent's branch and checkpoints."""
    repo_id = launch.repo.id if launch.repo is not None else None
    for other in running:
        if other.session_id == launch.session_id or other.repo is None:
            continue
        if other.repo.id == repo_id:
            SessionDir(root, other.session_id).bring_back(other.repo, other.branch)
