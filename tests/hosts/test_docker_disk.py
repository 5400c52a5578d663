"""``TRACE_DOCKER_DISK``: the setting, the layer cap offered only to engines that
have one, and cloud sessions in real containers paused past their limit."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.hosts.docker import DockerHost, DockerSettings
from adapters.hosts.docker_disk import layer_quota
from tests.bridges.conftest import Bed
from tests.conftest import eventually
from tests.hosting.conftest import IoView
from tests.hosts.test_docker import BUILDS, _idle, docker_server
from trace_sync.bridge.hosts import HostConfig, Launch
from trace_sync.client.sync_client import SyncClient
from trace_sync.settings import SettingsError


def _read(tmp_path: Path, **options: str) -> DockerSettings:
    return DockerSettings.read(HostConfig(tmp_path, options))


def test_the_disk_limit_is_a_size_and_unset_means_none(tmp_path: Path) -> None:
    assert _read(tmp_path).disk is None  # as before: no limit
    assert _read(tmp_path, disk="10g").disk == 10 << 30
    assert _read(tmp_path, disk="512MiB").disk == 512 << 20
    assert _read(tmp_path, disk="off").disk is None
    assert _read(tmp_path, disk="10g", disk_check_s="2").disk_check_s == 2.0


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("10 gigs", "TRACE_DOCKER_DISK must be a size like 512M or 4G: '10 gigs'"),
        ("1.5g", "TRACE_DOCKER_DISK must be a size like 512M or 4G: '1.5g'"),
        ("10", "TRACE_DOCKER_DISK must be at least 1M (a plain number is bytes"),
    ],
)
def test_a_bad_disk_limit_stops_the_server_saying_why(
    tmp_path: Path, value: str, said: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        _read(tmp_path, disk=value)
    assert str(refused.value).startswith(said)


def test_a_bad_check_interval_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TRACE_DOCKER_DISK_CHECK_S must be 0-3600 seconds"):
        _read(tmp_path, disk="1g", disk_check_s="0")


def test_only_engines_with_quotas_are_asked_to_cap_a_containers_layer() -> None:
    def info(driver: str, backing: str = "extfs") -> dict[str, object]:
        return {"Driver": driver, "DriverStatus": [["Backing Filesystem", backing]]}

    assert not layer_quota(info("overlay2"))  # this machine's engine: overlay2 on ext4
    assert layer_quota(info("overlay2", "xfs"))
    assert layer_quota(info("btrfs")) and layer_quota(info("zfs"))
    assert not layer_quota(info("vfs")) and not layer_quota({})


FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "{log}"
case "$1" in
  info) echo '{{"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "xfs"]]}}' ;;
  container) echo "Error: No such container" >&2; exit 1 ;;  # removed (inspect after rm)
  run) case "$*" in *--storage-opt*)
    echo "docker: Error response from daemon: --storage-opt is supported only for" \
         "overlay over xfs with 'pquota' mount option." >&2; exit 125 ;; esac ;;
esac
"""


async def test_an_engine_that_refuses_a_layer_cap_still_starts_the_session(
    tmp_path: Path,
) -> None:
    """overlay2 on xfs mounted without ``pquota`` looks able in ``docker info`` and
    refuses at ``docker run``: the container starts without the cap, and the next
    one is not offered it again."""
    log, cli = tmp_path / "docker.log", tmp_path / "docker"
    cli.write_text(FAKE_DOCKER.format(log=log))
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    options = {"binary": str(cli), "network": "host", "disk": "5m"}
    host = DockerHost(HostConfig(tmp_path / "data", options))
    for sid in ("s_1", "s_2"):
        await host.start(Launch("http://127.0.0.1:4000", "rt_1", "rt-secret", sid))
    runs = [line for line in log.read_text().splitlines() if line.startswith("run ")]
    assert ["--storage-opt size=5242880" in run for run in runs] == [True, False, False]
    assert host.bridges == {"s_1": "trace-s_1", "s_2": "trace-s_2"}
    await host.close()


# -- in real containers -------------------------------------------------------------------

LIMIT = "5m"


@pytest.fixture
async def capped(tmp_path: Path, server_home: Path, bridge_image: str) -> AsyncIterator[Bed]:
    """A server whose cloud sessions may take 5 MiB of disk, looked at twice a second."""
    options = {"image": bridge_image, "cpus": "1", "disk": LIMIT, "disk_check_s": "0.5"}
    async with docker_server(tmp_path, options) as bed:
        try:
            yield bed
        finally:  # containers outlive their server on purpose
            await DockerHost(HostConfig(bed.live.ctx.settings.data_dir, options)).stop_all()


async def _shown(bed: Bed, sid: str) -> dict[str, object]:
    """The session as a person sees it over the API."""
    found = await bed.http.get(f"/api/sessions/{sid}", headers=bed.headers(bed.owner))
    assert found.status_code == 200, found.text
    return dict(found.json())


@BUILDS
async def test_a_session_past_its_disk_limit_pauses_saying_why_and_keeps_its_work(
    capped: Bed,
) -> None:
    calm = await capped.start(
        capped.owner, location="cloud", prompt="head -c 1048576 /dev/zero > small.bin"
    )
    await _idle(capped, calm.id)  # 1 MiB: within the limit
    write = "echo before-$((1+1)); "
    write += "head -c 8388608 /dev/zero > big.bin; sleep 5; echo after-$((6*7))"
    session = await capped.start(capped.owner, location="cloud", prompt=write)

    async def paused() -> bool:
        return await capped.status(session.id) == "paused"

    await eventually(paused, 120)
    shown = await _shown(capped, session.id)
    assert str(shown["reason"]).startswith("disk limit of 5 MiB reached (it uses 8")
    assert str(shown["reason"]).endswith("free space or raise TRACE_DOCKER_DISK")
    assert "session.limit_reached" in await capped.timeline(session.id)
    [big] = (capped.live.ctx.settings.data_dir / "containers" / session.id).rglob("big.bin")
    assert big.stat().st_size == 8 << 20  # nothing it made is lost
    url = f"session/{session.id}/io"
    async with SyncClient(capped.live.url, url, capped.owner.token, read_only=True) as client:
        await client.wait_synced()
        io = IoView(client)
        assert "before-2" in io.lines()  # its output so far is kept
        assert await capped.status(calm.id) == "idle"  # the one within its limit runs on
        big.unlink()  # space freed: it goes on from where it stopped
        resumed = await capped.http.post(
            f"/api/sessions/{session.id}/resume", headers=capped.headers(capped.owner)
        )
        assert resumed.status_code == 200, resumed.text
        await eventually(lambda: "after-42" in io.lines(), 120, io.lines)
    await _idle(capped, session.id)
    assert (await _shown(capped, session.id))["status"] == "idle"
    calm_io = f"session/{calm.id}/io"
    await capped.live.ctx.sessions.send(capped.owner.principal, calm.id, "echo on-$((3*3))")
    async with SyncClient(capped.live.url, calm_io, capped.owner.token, read_only=True) as client:
        await client.wait_synced()
        io = IoView(client)
        await eventually(lambda: "on-9" in io.lines(), 120, io.lines)
    assert await capped.status(calm.id) != "paused"
