"""The command a host runs as a cloud session's bridge: the same for every host.

The sandbox runs it with the server's own Python; a container with the image's
(deploy/bridge/Dockerfile installs Trace in /opt/trace). It runs under the
supervisor (trace_sync/bridge/supervisor.py), which starts a bridge killed in
its box again, as systemd would on a person's machine. Nothing secret is in
it: the runtime token is in the bridge's data dir (session_dir.py), which the
bridge reads before anything else.
"""

from __future__ import annotations

from pathlib import Path

from trace_sync.bridge.hosts import Launch


def bridge_command(python: str, launch: Launch, data: Path, kind: str) -> list[str]:
    """``trace bridge`` for ``launch``'s session, keeping everything in ``data``."""
    # -P: the bridge's own directory (its cwd, writable inside) is not on sys.path.
    supervisor = [python, "-P", "-B", "-m", "trace_sync.bridge.supervisor", "--"]
    return supervisor + [python, "-P", "-B", "-m", "trace_sync.cli", "bridge"] + [
        "--server", launch.server_url, "--data-dir", str(data),
        "--name", f"{kind}-{launch.session_id}",
    ]  # fmt: skip


def relayed(python: str, forwards: list[tuple[str, str]], command: list[str]) -> list[str]:
    """``command`` behind the relays of a confined container: each ``(listen, socket)``
    listens inside before the command starts (trace_sync/bridge/socket_relay.py)."""
    if not forwards:
        return command
    relay = [python, "-P", "-B", "-m", "trace_sync.bridge.socket_relay"]
    for listen, socket in forwards:
        relay += ["--forward", f"{listen}={socket}"]
    return [*relay, "--", *command]
