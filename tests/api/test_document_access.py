"""The authorization matrix over websocket: each kind of caller reading and
writing each document of a session, its workspace and a person, with real clients."""

from __future__ import annotations

from pycrdt import Map

from tests.api.conftest import Team
from tests.conftest import eventually
from trace_sync.client.access_watch import AccessWatch
from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.contract.errors import TraceError
from trace_sync.contract.sync_protocol import SCOPE_READ, SCOPE_WRITE

CALLERS = ("owner", "admin", "member", "viewer", "outsider", "revoked", "runtime")


async def probe(team: Team, who: str, name: str) -> str:
    """'rw', 'r' (a write closes with 4403), or the close code of the refusal."""
    async with team.sync(who, name, backoff=Backoff(first=0.05)) as client:
        try:
            await client.wait_synced(20)
        except TraceError:
            return str(client.close_code)
        with client.doc.transaction(origin="probe"):
            client.doc.get("probe", type=Map)[who] = True

        def landed() -> bool:
            room = team.live.ctx.sync.rooms.get(name)
            return room is not None and who in room.doc.get("probe", type=Map)

        await eventually(lambda: client.state is LinkState.REFUSED or landed(), within=20)
        if landed():
            return "rw"
        assert client.close_code == 4403, client.close_code
        return "r"


async def matrix(team: Team) -> dict[str, dict[str, str]]:
    """Per document of a public and a private session, what each caller may do."""
    public = (await team.start("owner"))["id"]
    await team.host(public)
    private = (await team.start("member", private=True))["id"]
    refused = {"outsider": "4404", "revoked": "4401"}
    members = dict.fromkeys(("owner", "admin", "member", "viewer"), "r")
    return {
        f"workspace/{team.wid}": members | refused | {"runtime": "4404"},
        f"session/{public}": members | refused | {"runtime": "r"},
        f"session/{public}/io": members | refused | {"runtime": "rw"},
        f"session/{public}/notes": members
        | dict.fromkeys(("owner", "admin", "member"), "rw")
        | refused
        | {"runtime": "r"},
        f"session/{private}": members | refused | {"viewer": "4404", "runtime": "4404"},
        f"session/{private}/notes": dict.fromkeys(("owner", "admin", "member"), "rw")
        | refused
        | {"viewer": "4404", "runtime": "4404"},
        # A person's own signal document: theirs to read, nobody else's to know of.
        f"person/{team.users['viewer']}": dict.fromkeys(CALLERS, "4404")
        | {"viewer": "r", "revoked": "4401"},
        f"person/{team.users['outsider']}": dict.fromkeys(CALLERS, "4404")
        | {"outsider": "r", "revoked": "4401"},
    }


async def test_who_reads_and_writes_which_document(team: Team) -> None:
    expected = await matrix(team)
    seen = {name: {who: await probe(team, who, name) for who in CALLERS} for name in expected}
    assert seen == expected


async def watched(team: Team, who: str, name: str) -> str:
    """What an access watch of ``who`` is told: 'rw', 'r', or the refusal's close code."""
    async with AccessWatch(team.live.url, name, team.tokens[who]) as watch:
        try:
            await watch.wait_granted(20)
        except TraceError:
            return str(watch.close_code)
        return {SCOPE_WRITE: "rw", SCOPE_READ: "r"}[watch.scope or ""]


async def test_an_access_watch_is_told_what_a_join_would_be(team: Team) -> None:
    """The web app shares one replica per document between people's tabs and lets each
    person read it only while their own watch is granted: a watch must never be
    granted where that person's own connection would be refused."""
    expected = await matrix(team)
    seen = {name: {who: await watched(team, who, name) for who in CALLERS} for name in expected}
    assert seen == expected
