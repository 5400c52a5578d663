"""The command line of a sandbox, built from a plan by pure functions.

``sandbox_argv(plan)`` is everything the sandbox is, in one list that tests
compare exactly::

    prlimit --nofile=4096:4096 --core=0:0 --fsize=... --      # what rlimits can limit
    bwrap --unshare-pid --unshare-ipc --unshare-uts ...        # namespaces but the network's
          --unshare-user --disable-userns --cap-drop ALL       # (as root: see AS_OTHER_USER)
          --new-session
          --ro-bind / /  --dev /dev  --proc /proc  --perms 1777 --size N --tmpfs /tmp
          <mounts, shallowest first>  --chdir DIR
          --  [setpriv --reuid=U --regid=G --clear-groups --]  COMMAND...

A mount hides a directory (an empty tmpfs over it), masks a file
(``/dev/null`` over it), shows a path read-only, or makes one writable. They
are applied shallowest first, so a deeper mount wins: the server's data dir
is hidden, then the sandbox's own directory inside it is bound back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MountHow = Literal["hide", "mask", "read", "write"]

#: Namespaces and privileges: everything but the network is the sandbox's own
#: (the bridge must reach the server), no capabilities, and a session of its own
#: (no typing into the server's terminal). No ``--die-with-parent``: the sandbox
#: outlives the server that started it (sandbox.py).
NAMESPACES = (
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    "trace-sandbox",
)
LIFETIME = ("--new-session",)
#: Run by the server's own user: a user namespace of its own, none nested inside.
AS_SERVER_USER = ("--unshare-user", "--disable-userns", "--cap-drop", "ALL")
#: Run by root for another user: bwrap (root) makes the mounts, then the command
#: drops to the user with setpriv; the only capabilities left are the two it needs
#: for that, and changing to a user other than root clears them.
AS_OTHER_USER = ("--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID")
#: The PATH a sandbox gets when the server has none.
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
#: Passed in from the server's environment: locale and the tools' plain settings.
PASSED = ("LANG", "LC_ALL", "TZ")
PASSED_PREFIXES = ("TRACE_TOOL_",)


@dataclass(frozen=True)
class Mount:
    path: Path
    how: MountHow


@dataclass(frozen=True)
class SandboxLimits:
    """Per-process resource limits (rlimits, inherited by every process inside)."""

    open_files: int = 4096
    #: Largest file a process may write.
    file_bytes: int | None = 8 << 30
    #: Address space per process; off by default: Node (Claude Code, Codex)
    #: reserves far more virtual memory than it ever uses.
    memory_bytes: int | None = None


@dataclass(frozen=True)
class SandboxPlan:
    command: tuple[str, ...]
    #: The working directory inside (the sandbox's own directory).
    workdir: Path
    mounts: tuple[Mount, ...] = ()
    #: Size of the private /tmp (a tmpfs, so it is memory): None for the default.
    tmp_bytes: int | None = 1 << 30
    limits: SandboxLimits = SandboxLimits()
    #: (uid, gid) the command runs as, when not the server's own user (root's).
    user: tuple[int, int] | None = None
    bwrap: str = "bwrap"
    prlimit: str = "prlimit"
    setpriv: str = "setpriv"


def sandbox_argv(plan: SandboxPlan) -> list[str]:
    """The whole command line: limits, bwrap and its mounts, the (user's) command."""
    privileges = AS_SERVER_USER if plan.user is None else AS_OTHER_USER
    argv = [*_limits(plan), plan.bwrap, *NAMESPACES, *privileges, *LIFETIME]
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--perms", "1777"]
    if plan.tmp_bytes is not None:
        argv += ["--size", str(plan.tmp_bytes)]
    argv += ["--tmpfs", "/tmp"]
    argv += _mounts(sorted(plan.mounts, key=lambda m: len(m.path.parts)))
    return [*argv, "--chdir", str(plan.workdir), "--", *_user(plan), *plan.command]


def sandbox_env(
    server_env: Mapping[str, str], home: Path, token: str, passed: Sequence[str] = ()
) -> dict[str, str]:
    """The bridge's environment: never the server's own (its database URL, say), only
    the path, locale, tools' settings and the variables named in ``passed``."""
    env = {
        "PATH": server_env.get("PATH") or DEFAULT_PATH,
        "HOME": str(home),
        "TMPDIR": "/tmp",
        # the shell tool and terminals: the server's user's shell, not nobody's nologin
        "SHELL": server_env.get("SHELL") or "/bin/sh",
        "TRACE_TOKEN": token,  # the runtime token; trace bridge strips it from its children
    }
    for name, value in server_env.items():
        if name in PASSED or name in passed or name.startswith(PASSED_PREFIXES):
            env[name] = value
    return env


def _user(plan: SandboxPlan) -> list[str]:
    if plan.user is None:
        return []
    uid, gid = plan.user
    return [plan.setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]


def _limits(plan: SandboxPlan) -> list[str]:
    limits = plan.limits
    argv = [plan.prlimit, f"--nofile={limits.open_files}:{limits.open_files}", "--core=0:0"]
    if limits.file_bytes is not None:
        argv.append(f"--fsize={limits.file_bytes}:{limits.file_bytes}")
    if limits.memory_bytes is not None:
        argv.append(f"--as={limits.memory_bytes}:{limits.memory_bytes}")
    return [*argv, "--"]


def _mounts(mounts: Sequence[Mount]) -> list[str]:
    """Each mount, after the directories leading to it where they are new (inside
    a tmpfs): made 0755, so a user other than root can reach what is bound there."""
    argv: list[str] = []
    fresh, made = [Path("/tmp")], set()
    for mount in mounts:
        for parent in reversed(mount.path.parents):
            if parent not in made and parent not in fresh and _under(parent, fresh):
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        argv += _mount(mount)
        if mount.how == "hide":
            fresh.append(mount.path)
    return argv


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(root in path.parents for root in roots)


def _mount(mount: Mount) -> list[str]:
    path = str(mount.path)
    if mount.how == "hide":
        return ["--tmpfs", path]
    if mount.how == "mask":
        return ["--ro-bind", "/dev/null", path]
    return ["--ro-bind" if mount.how == "read" else "--bind", path, path]
