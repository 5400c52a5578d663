"""A confined container (the docker host's default, ``--network none``) on a real
engine: code in it reaches neither the machine's loopback nor anything beyond, while
its bridge reaches the server, and its tools their providers (plain http, and https
kept end to end), through the host's relays. Claude Code against the scripted model
server in a confined container: tests/hosts/test_lifecycle.py (its ``docker`` run)."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.hosts.docker import IMAGE_PYTHON, DockerHost
from tests.bridges.conftest import Bed
from tests.conftest import eventually
from tests.hosting.conftest import IoView
from tests.hosts.test_docker import BUILDS, _idle, _inspect, docker_server
from tests.support.server_process import free_port
from trace_sync.bridge.hosts import HostConfig
from trace_sync.client.sync_client import SyncClient

#: Run inside the container: the interfaces it has, then a connection to the test's
#: canary on the machine's 127.0.0.1 and, only when there is no interface but
#: loopback (so nothing can leave), to an address beyond (TEST-NET-1).
PROBE = """
import os, socket, sys
nets = sorted(os.listdir("/sys/class/net"))
print("nets", ",".join(nets))
targets = [("127.0.0.1", int(sys.argv[1]))]
if nets == ["lo"]:
    targets.append(("192.0.2.1", 80))
for host, port in targets:
    try:
        socket.create_connection((host, port), 3).close()
        print(host, "reached")
    except OSError as exc:
        print(host, "failed", exc.errno)
"""


class Canary:
    """A TCP server on the machine's 127.0.0.1 that counts who reached it."""

    def __init__(self) -> None:
        self.reached = 0
        self.port = 0

    async def _seen(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reached += 1
        writer.close()


@pytest.fixture
async def canary() -> AsyncIterator[Canary]:
    bird = Canary()
    server = await asyncio.start_server(bird._seen, "127.0.0.1", 0)
    bird.port = server.sockets[0].getsockname()[1]
    async with server:
        yield bird


@pytest.fixture
async def confined(tmp_path: Path, server_home: Path, bridge_image: str) -> AsyncIterator[Bed]:
    """A server on 127.0.0.1 whose cloud sessions run in containers of the default network."""
    options = {"image": bridge_image, "memory": "768m", "cpus": "1", "pids": "256"}
    async with docker_server(tmp_path, options) as bed:
        try:
            yield bed
        finally:
            await DockerHost(HostConfig(bed.live.ctx.settings.data_dir, options)).stop_all()


async def _shows(bed: Bed, sid: str, text: str) -> None:
    url = f"session/{sid}/io"
    async with SyncClient(bed.live.url, url, bed.owner.token, read_only=True) as client:
        await client.wait_synced()
        io = IoView(client)
        await eventually(lambda: text in io.lines(), 120)


async def _exec(sid: str, *argv: str) -> tuple[int, str, str]:
    """``docker exec`` in the session's container, as its user; (exit code, out, err).
    Awaited: the test's own servers answer on this loop meanwhile."""
    process = await asyncio.create_subprocess_exec(
        "docker", "exec", f"trace-{sid}", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@BUILDS
async def test_code_in_a_container_reaches_nothing_but_its_bridge_still_works(
    confined: Bed, canary: Canary
) -> None:
    session = await confined.start(confined.owner, location="cloud", prompt="echo up-$((6*7))")
    await _idle(confined, session.id)
    await _shows(confined, session.id, "up-42")  # the bridge reached the server
    code, out, err = await _exec(session.id, IMAGE_PYTHON, "-c", PROBE, str(canary.port))
    assert code == 0, err
    assert out.splitlines() == [
        "nets lo",
        "127.0.0.1 failed 111",  # refused: its loopback is its own
        "192.0.2.1 failed 101",  # network unreachable: there is no way out
    ]
    assert canary.reached == 0
    # The bridge still works after the probe: a second turn runs and is seen.
    sessions = confined.live.ctx.sessions
    await sessions.send(confined.owner.principal, session.id, "echo again-$((6*7))")
    await _shows(confined, session.id, "again-42")


@BUILDS
async def test_docker_inspect_shows_no_token_nor_the_servers_address(confined: Bed) -> None:
    session = await confined.start(confined.owner, location="cloud", prompt="echo hi")
    await _idle(confined, session.id)
    facts = json.dumps(_inspect(f"trace-{session.id}"))
    folder = confined.live.ctx.settings.data_dir / "containers" / session.id
    token = json.loads((folder / "bridge" / "runtime.json").read_text())["token"]
    assert token not in facts and confined.owner.token not in facts
    port = confined.live.url.rsplit(":", 1)[1].rstrip("/")
    assert f"127.0.0.1:{port}" not in facts  # it dials its relay, not the server
    assert '"NetworkMode": "none"' in facts


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost``: (certificate, key)."""
    cert, key = folder / "models.pem", folder / "models.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@BUILDS
async def test_an_https_provider_is_reached_with_tls_end_to_end(
    tmp_path: Path,
    server_home: Path,
    bridge_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tool's https URL is kept: the container checks the provider's own
    certificate for its name, through the relays, which only carry bytes."""
    cert, key = _certificate(server_home)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    heard: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\npong")
        await writer.drain()
        writer.close()

    port = free_port()
    provider = await asyncio.start_server(answer, "127.0.0.1", port, ssl=tls)
    monkeypatch.setenv("TRACE_TOOL_CODEX_BASE_URL", f"https://localhost:{port}/v1")
    options = {"image": bridge_image, "cpus": "1"}
    async with provider, docker_server(tmp_path, options) as bed:
        try:
            session = await bed.start(bed.owner, location="cloud", prompt="echo hi")
            await _idle(bed, session.id)
            # The server's home is not bound into the container; the repo is, read-only.
            (Path(bed.repo.path) / "models.pem").write_bytes(cert.read_bytes())
            shown = str(Path(bed.repo.path) / "models.pem")
            fetch = (
                "import ssl, sys, urllib.request\n"
                "context = ssl.create_default_context(cafile=sys.argv[1])\n"
                "print(urllib.request.urlopen(sys.argv[2], context=context).read().decode())\n"
            )
            url = f"https://localhost:{port}/v1/ping"
            code, out, err = await _exec(session.id, IMAGE_PYTHON, "-c", fetch, shown, url)
            assert (code, out.strip()) == (0, "pong"), err
            assert heard and heard[0].startswith(b"GET /v1/ping ")
        finally:
            await DockerHost(HostConfig(bed.live.ctx.settings.data_dir, options)).stop_all()
