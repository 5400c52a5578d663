"""A cloud session's later life in the sandbox host: resumed (after a stop, or after
the server restarted and its sandbox died), it shows its true status; merged, its
work lands on the repo's base branch."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from adapters.hosts.sandbox import SandboxHost
from tests.bridges.conftest import Bed
from tests.conftest import eventually
from tests.hosting.conftest import IoView
from tests.hosting.test_restarts import QUICK
from tests.hosts.conftest import need_bwrap
from tests.hosts.test_sandbox_sessions import cloud  # noqa: F401 - the fixture
from tests.support.git import commit_all, git, make_repo, write
from tests.support.server_process import ServerProcess
from tests.support.waiting_tools import follow, trace
from tests.support.waiting_tools import reaches as server_reaches
from trace_sync.bridge.hosts import HostConfig
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs.layouts import SESSION
from trace_sync.docs.typed import root_of


async def timeline(bed: Bed, sid: str) -> list[dict[str, Any]]:
    async with bed.live.ctx.sync.rooms.document(f"session/{sid}") as doc:
        return [dict(e) for e in root_of(doc, SESSION, "timeline")]


async def reaches(bed: Bed, sid: str, status: str, within: float = 90) -> None:
    async def reached() -> bool:
        return await bed.status(sid) == status

    await eventually(reached, within)


async def command(bed: Bed, sid: str, name: str, **body: Any) -> Any:
    done = await bed.http.post(
        f"/api/sessions/{sid}/{name}", json=body or None, headers=bed.headers(bed.owner)
    )
    assert done.status_code in (200, 201), done.text
    return done.json()


async def test_a_resumed_cloud_session_shows_its_true_status(cloud: Bed) -> None:  # noqa: F811
    session = await cloud.start(cloud.owner, location="cloud", prompt="echo one-$((1))")
    await reaches(cloud, session.id, "idle")
    await command(cloud, session.id, "stop")
    await command(cloud, session.id, "resume")
    await reaches(cloud, session.id, "idle")
    resumed_at = len(await timeline(cloud, session.id))
    await command(cloud, session.id, "prompts", text="echo two-$((2))")
    url = f"session/{session.id}/io"
    async with SyncClient(cloud.live.url, url, cloud.owner.token, read_only=True) as client:
        await client.wait_synced()
        io = IoView(client)
        await eventually(lambda: "two-2" in io.lines(), 90)
        await eventually(lambda: io.runtime().get("status") == "idle", 30)
    await reaches(cloud, session.id, "idle")
    later = await timeline(cloud, session.id)
    after = [e.get("status") or e["kind"] for e in later[resumed_at - 3 :]]
    assert "failed" not in after and "runtime.lost" not in after, after
    assert (await cloud.row(session.id)).reason is None


async def test_merging_a_cloud_session_lands_on_the_repos_base_branch(
    cloud: Bed,  # noqa: F811
) -> None:
    session = await cloud.start(cloud.owner, location="cloud", prompt="echo cloud > cloud.txt")
    await reaches(cloud, session.id, "idle")
    repo = Path(cloud.repo.path)
    before = git(repo, "rev-parse", "main")
    merged = await command(cloud, session.id, "merge")
    assert merged["merged"] and merged["commit"], merged
    assert git(repo, "rev-parse", "main") == merged["commit"]
    assert git(repo, "show", "main:cloud.txt") == "cloud"
    assert git(repo, "merge-base", "--is-ancestor", before, "main") == ""
    assert (repo / "cloud.txt").read_text() == "cloud\n"  # the person's checkout follows
    assert git(repo, "status", "--porcelain") == ""


async def test_a_cloud_session_merges_though_the_repos_base_moved_since_it_cloned(
    cloud: Bed,  # noqa: F811
) -> None:
    session = await cloud.start(cloud.owner, location="cloud", prompt="echo cloud > cloud.txt")
    await reaches(cloud, session.id, "idle")
    repo = Path(cloud.repo.path)
    write(repo, {"meanwhile.txt": "on main\n"})
    moved = commit_all(repo, "main moves on after the sandbox cloned it")
    squashed = await command(cloud, session.id, "merge", strategy="squash")
    assert squashed["merged"], squashed
    assert git(repo, "rev-parse", "main^@") == moved  # one commit on the moved base
    assert git(repo, "show", "main:cloud.txt") == "cloud"
    assert (repo / "meanwhile.txt").read_text() == "on main\n"
    assert git(repo, "status", "--porcelain") == ""
    write(repo, {"cloud.txt": "the person's version\n"})
    commit_all(repo, "main edits the same file")
    clash = await cloud.http.post(
        f"/api/sessions/{session.id}/merge", json={}, headers=cloud.headers(cloud.owner)
    )
    assert clash.status_code == 200, clash.text
    assert (clash.json()["merged"], clash.json()["conflicts"]) == (False, ["cloud.txt"])


async def test_a_cloud_session_resumed_after_a_server_restart_shows_its_true_status(
    tmp_path: Path, server_home: Path
) -> None:
    need_bwrap()
    checkout = make_repo(tmp_path / "shop", branch="main")
    quick = QUICK | {"TRACE_CLOUD_HOST": "sandbox"}  # the dead sandbox is lost in seconds
    server = ServerProcess(tmp_path / "data", extra_env=quick)
    server.start()
    try:
        await trace(server, "repo", "add", str(checkout))
        argv = ["session", "start", "--repo", str(checkout), "--tool", "shell", "--cloud"]
        sid = (await trace(server, *argv, "-m", "echo one-$((1))"))["id"]
        await server_reaches(server, sid, "idle", 90)
        server.stop(signal.SIGTERM)  # its sandbox outlives it...
        host = SandboxHost(HostConfig(server.data_dir))
        host.bridges[sid].kill()  # ...but dies while the server is away
        await host.close()
        server.start()
        # Idle, but its sandbox is gone for good: it waits for a resume to start one.
        await server_reaches(server, sid, "interrupted", 90)
        await trace(server, "session", "resume", sid)
        await server_reaches(server, sid, "idle", 90)
        await trace(server, "session", "send", sid, "echo two-$((2))")
        async with follow(server, f"session/{sid}/io") as io:
            await eventually(lambda: "two-2" in io.lines(), 90)
            await eventually(lambda: io.runtime().get("status") == "idle", 30)
            assert io.runtime().get("error") is None
        await server_reaches(server, sid, "idle", 30)
        async with follow(server, f"session/{sid}") as session:
            events = [dict(e) for e in root_of(session.client.doc, SESSION, "timeline")]
    finally:
        server.stop(signal.SIGKILL)
        await SandboxHost(HostConfig(server.data_dir)).stop_all()
    kinds = [e["kind"] for e in events]
    after = events[kinds.index("session.resumed") :]
    statuses = [e["payload"].get("status") for e in after if e["kind"] == "status.reported"]
    assert not {"failed", "interrupted"} & set(statuses) and statuses[-1] == "idle", statuses


async def test_deleting_a_cloud_session_removes_its_sandbox_and_what_came_back(
    cloud: Bed,  # noqa: F811
) -> None:
    session = await cloud.start(cloud.owner, location="cloud", prompt="echo kept > kept.txt")
    await reaches(cloud, session.id, "idle")
    await command(cloud, session.id, "stop")
    repo = Path(cloud.repo.path)
    checkpoints = f"refs/trace/checkpoints/{session.id}/"
    assert git(repo, "for-each-ref", checkpoints) != ""  # brought back by the stop
    folder = cloud.live.ctx.settings.data_dir / "sandboxes" / session.id
    assert folder.is_dir()
    deleted = await cloud.http.delete(
        f"/api/sessions/{session.id}",
        headers=cloud.headers(cloud.owner) | {"Prefer": "return=representation"},
    )
    assert deleted.status_code == 200, deleted.text
    removed = deleted.json()["removed"]
    assert (removed["state"], removed["branch"]) == ("done", "deleted"), removed
    assert git(repo, "for-each-ref", checkpoints) == ""
    assert git(repo, "branch", "--list", "trace/*") == ""
    assert not folder.exists()
