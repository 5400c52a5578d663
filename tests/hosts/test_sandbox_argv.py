"""The sandbox's command line, exactly: every isolation choice is in this list."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.hosts.options import Options
from adapters.hosts.sandbox_argv import Mount, SandboxLimits, SandboxPlan, sandbox_argv, sandbox_env
from trace_sync.settings import Settings, SettingsError

OWN = Path("/srv/trace/sandboxes/s_1/bridge")
PLAN = SandboxPlan(
    command=("python", "-m", "trace_sync.cli", "bridge"),
    workdir=OWN,
    mounts=(
        Mount(OWN, "write"),
        Mount(Path("/home/ann/code/app"), "read"),
        Mount(Path("/srv/trace"), "hide"),
        Mount(Path("/home"), "hide"),
        Mount(Path("/etc/trace.env"), "mask"),
    ),
    tmp_bytes=1 << 20,
    limits=SandboxLimits(open_files=512, file_bytes=1 << 30, memory_bytes=1 << 32),
    bwrap="/usr/bin/bwrap",
    prlimit="/usr/bin/prlimit",
)
LIMITS = ["/usr/bin/prlimit", "--nofile=512:512", "--core=0:0"]
LIMITS += ["--fsize=1073741824:1073741824", "--as=4294967296:4294967296", "--"]
NAMESPACES = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
NAMESPACES += ["--hostname", "trace-sandbox"]
BASE = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
BASE += ["--perms", "1777", "--size", "1048576", "--tmpfs", "/tmp"]
MOUNTS = [
    "--tmpfs", "/home",
    "--tmpfs", "/srv/trace",
    "--ro-bind", "/dev/null", "/etc/trace.env",
    "--perms", "0755", "--dir", "/home/ann",
    "--perms", "0755", "--dir", "/home/ann/code",
    "--ro-bind", "/home/ann/code/app", "/home/ann/code/app",
    "--perms", "0755", "--dir", "/srv/trace/sandboxes",
    "--perms", "0755", "--dir", "/srv/trace/sandboxes/s_1",
    "--bind", str(OWN), str(OWN),
]  # fmt: skip
COMMAND = ["--chdir", str(OWN), "--"]


def test_as_the_servers_own_user() -> None:
    privileges = ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    lifetime = ["--new-session"]
    assert sandbox_argv(PLAN) == [
        *LIMITS, "/usr/bin/bwrap", *NAMESPACES, *privileges, *lifetime, *BASE, *MOUNTS,
        *COMMAND, "python", "-m", "trace_sync.cli", "bridge",
    ]  # fmt: skip


def test_as_another_user_when_the_server_is_root() -> None:
    plan = SandboxPlan(**{**vars(PLAN), "user": (65534, 65534), "setpriv": "/usr/bin/setpriv"})
    privileges = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    lifetime = ["--new-session"]
    setpriv = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    assert sandbox_argv(plan) == [
        *LIMITS, "/usr/bin/bwrap", *NAMESPACES, *privileges, *lifetime, *BASE, *MOUNTS,
        *COMMAND, *setpriv, "python", "-m", "trace_sync.cli", "bridge",
    ]  # fmt: skip


def test_no_tmp_size_and_no_file_or_memory_limits_leave_their_options_out() -> None:
    plan = SandboxPlan(("true",), Path("/w"), tmp_bytes=None, limits=SandboxLimits(64, None, None))
    argv = sandbox_argv(plan)
    assert argv[:4] == ["prlimit", "--nofile=64:64", "--core=0:0", "--"]
    assert "--size" not in argv and argv[-4:] == ["--chdir", "/w", "--", "true"]


def test_the_environment_is_not_the_servers() -> None:
    server = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "TRACE_DATABASE_URL": "postgresql://u:pw@db/trace",
        "TRACE_TOKEN": "owner-token",
        "TRACE_TOOL_CLAUDE_CODE_MODEL": "claude-x",
        "ANTHROPIC_API_KEY": "sk-1",
        "AWS_SECRET_ACCESS_KEY": "aws",
    }
    env = sandbox_env(server, OWN / "home", "rt-token", passed=("ANTHROPIC_API_KEY",))
    assert env == {
        "PATH": "/usr/bin",
        "HOME": str(OWN / "home"),
        "TMPDIR": "/tmp",
        "SHELL": "/bin/sh",
        "TRACE_TOKEN": "rt-token",
        "LANG": "C.UTF-8",
        "TRACE_TOOL_CLAUDE_CODE_MODEL": "claude-x",
        "ANTHROPIC_API_KEY": "sk-1",
    }


def test_the_cloud_host_and_its_options_come_from_the_environment(tmp_path: Path) -> None:
    env = {"TRACE_DATA_DIR": str(tmp_path), "TRACE_CLOUD_HOST": "sandbox"}
    env |= {"TRACE_SANDBOX_TMP_SIZE": "256M", "TRACE_SANDBOX_PASS_ENV": "A,B"}
    env |= {"TRACE_DOCKER_IMAGE": "not-for-this-host"}
    settings = Settings.from_env(env)
    assert settings.cloud_host == "sandbox"
    assert settings.cloud_host_options == {"tmp_size": "256M", "pass_env": "A,B"}
    with pytest.raises(SettingsError, match="one of docker, sandbox"):
        Settings.from_env({"TRACE_DATA_DIR": str(tmp_path), "TRACE_CLOUD_HOST": "sandbx"})


def test_bad_host_options_name_their_variable(tmp_path: Path) -> None:
    options = Options("sandbox", {"tmp_size": "lots", "open_files": "0", "pass_env": "A-B"})
    with pytest.raises(SettingsError, match="TRACE_SANDBOX_TMP_SIZE"):
        options.size("tmp_size", None)
    with pytest.raises(SettingsError, match="TRACE_SANDBOX_OPEN_FILES"):
        options.count("open_files", 4096, low=64)
    with pytest.raises(SettingsError, match="TRACE_SANDBOX_PASS_ENV"):
        options.names("pass_env")
    assert Options("sandbox", {"memory": "2G", "file_size": "off"}).size("memory", None) == 2 << 30
    assert Options("sandbox", {"file_size": "off"}).size("file_size", 1) is None
