"""The app's client layer against a real server: replicas, presence, outbox, review."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pycrdt import Text

from tests.app.conftest import FAST, World
from tests.app.seed import streamed
from tests.conftest import eventually
from trace_app import commands, notes
from trace_app.client import UNREACHABLE, TraceClient
from trace_app.replicas import Replicas
from trace_sync.client.api import Unreachable
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.session_spec import SessionSpec
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION_IO


async def test_the_session_list_and_a_session_come_from_the_documents(world: World) -> None:
    async with TraceClient(world.live.url, world.live.token, backoff=FAST) as trace:
        await trace.start()
        await eventually(lambda: len(trace.sessions()) == 3)
        statuses = {r.title: r.status for r in trace.sessions()}
        assert statuses["Add email to users"] == "waiting_approval"
        assert statuses["Explore the parser"] == "paused"
        state = await trace.open_session(world.hosted)
        await eventually(lambda: len(trace.session(world.hosted).approvals) == 1)
        state = trace.session(world.hosted)
        assert [a.detail.command for a in state.approvals] == ["pytest -q tests/test_models.py"]
        kinds = [i.kind for i in state.items]
        assert kinds == ["user_prompt", "thinking", "tool_call", "assistant_text", "raw", "raw"]
        assert state.items[2].result == "edited app/models.py"  # the result folds into its call
        assert [s.name for s in state.terminals[0].segments] == ["t1-0"]
        assert "older output" in await trace.older_output(world.hosted, "t1-0")
        assert trace.attention()[0].id == world.hosted


async def test_streamed_text_shows_as_it_arrives(world: World) -> None:
    async with TraceClient(world.live.url, world.live.token, backoff=FAST) as trace:
        await trace.start()
        await trace.open_session(world.hosted)
        world.runtime.stream(" and they pass.")
        await world.runtime.io.flush()
        await eventually(
            lambda: streamed(trace, world.hosted).endswith("Running the tests now and they pass.")
        )


async def test_output_nobody_here_draws_is_kept_but_not_told(world: World) -> None:
    # The web page draws terminals itself: its tab's replica holds the output but tells
    # nobody, so pycrdt never works out the output's deltas for it.
    heard: list[str | None] = []
    io = f"session/{world.hosted}/io"
    async with Replicas(
        world.live.url, world.live.token, on_change=lambda c: heard.append(c.root),
        unheard=frozenset({"output"}), backoff=FAST,
    ) as replicas:  # fmt: skip
        replica = await replicas.open(io)
        await eventually(lambda: "transcript" in heard)
        heard.clear()
        output = typed.root_of(world.runtime.io.doc, SESSION_IO, "output")["t1"]
        with world.runtime.io.doc.transaction(origin="runtime"):
            output += "make: done\r\n"
        world.runtime.stream(" and they pass.")
        await world.runtime.flush()
        await eventually(lambda: "transcript" in heard)
        assert "make: done" in str(replica.roots["output"]["t1"])
        assert "output" not in heard


async def test_a_seal_redraws_nothing_and_a_resize_redraws_the_view(world: World) -> None:
    # Where a terminal's window starts moves twice a minute under steady output; the
    # page's terminal follows it itself, so the tabs' views are not redrawn for it.
    doc = world.runtime.io.doc
    terminals = typed.root_of(doc, SESSION_IO, "terminals")

    def change_t1(**fields: object) -> None:
        with doc.transaction(origin="runtime"):
            terminals["t1"] = dict(terminals["t1"]) | fields

    async with TraceClient(world.live.url, world.live.token, backoff=FAST, screens=None) as tab:
        await tab.start()
        await tab.open_session(world.hosted)
        await eventually(lambda: len(tab.inbox.items) == 2)  # settled: nothing else to tell
        replica = tab.replicas.get(f"session/{world.hosted}/io")
        assert replica is not None
        await eventually(lambda: bool(tab.session(world.hosted).terminals))
        t1 = lambda: replica.roots["terminals"]["t1"]  # noqa: E731
        told: list[int] = []
        tab.subscribe(lambda: told.append(1))
        # Other changes go on meanwhile (presence on the notes, the server's writes into
        # the session, inbox reads): each of them is told, the seal is not.
        others: list[str] = []
        tab.inbox.listeners.append(lambda: others.append("inbox"))
        for name, open_replica in tab.replicas.replicas.items():
            if not name.endswith("/io"):
                open_replica.listeners.append(lambda change: others.append(change.document))
        change_t1(sealed_chars=4096)
        await world.runtime.flush()
        await eventually(lambda: t1()["sealed_chars"] == 4096)  # heard, so told by now
        assert len(told) == len(others)
        change_t1(cols=132)
        await world.runtime.flush()
        await eventually(lambda: t1()["cols"] == 132)
        assert told


async def test_two_people_edit_the_draft_and_see_each_other(world: World) -> None:
    async with (
        TraceClient(world.live.url, world.live.token, backoff=FAST) as ada,
        TraceClient(world.live.url, world.live.token, backoff=FAST) as bob,
    ):
        for person in (ada, bob):
            await person.start()
            await person.open_session(world.hosted)
        await eventually(lambda: ada.notes_of(world.hosted).state.value == "synced")
        await eventually(lambda: bob.notes_of(world.hosted).state.value == "synced")
        notes.edit_text(ada.notes_of(world.hosted).doc, "draft", "Please add ")
        notes.edit_text(bob.notes_of(world.hosted).doc, "draft", "a test")
        same = lambda: ada.session(world.hosted).draft == bob.session(world.hosted).draft  # noqa: E731
        await eventually(lambda: same() and len(ada.session(world.hosted).draft) == 17)
        notes.look_at(ada.notes_of(world.hosted), ada.user_id, "ada", cursor=5)
        await eventually(
            lambda: any(p.get("cursor") == 5 for p in notes.viewers(bob.notes_of(world.hosted)))
        )


async def test_a_persons_tabs_share_what_they_read_and_each_keeps_its_own_notes(
    world: World,
) -> None:
    sid = world.hosted
    io = f"session/{sid}/io"
    connections = lambda: len(world.live.ctx.sync.rooms.get(io).connections)  # noqa: E731
    async with TraceClient(world.live.url, world.live.token, backoff=FAST) as first:
        await first.start()
        await first.open_session(world.hosted)
        await eventually(lambda: connections() == 2)  # the runtime's and this tab's
        async with TraceClient(world.live.url, world.live.token, backoff=FAST) as second:
            await second.start()
            await second.open_session(world.hosted)
            assert second.replicas.get(io).doc is first.replicas.get(io).doc  # type: ignore[union-attr]
            assert second.notes_of(world.hosted) is not first.notes_of(world.hosted)
            told: list[str] = []  # each tab redraws when told
            second.subscribe(lambda: told.append("second"))
            world.runtime.stream(" and they pass.")
            await world.runtime.flush()
            for tab in (first, second):
                heard = lambda tab=tab: streamed(tab, sid).endswith("and they pass.")  # noqa: E731
                await eventually(heard)
            assert told and connections() == 2
        world.runtime.stream(" All green.")  # the other tab closed: this one still follows
        await world.runtime.flush()
        await eventually(lambda: streamed(first, sid).endswith("All green."))
    await eventually(lambda: connections() == 1)


async def test_a_command_is_pending_then_done_and_a_refusal_shows_the_servers_message(
    world: World,
) -> None:
    async with TraceClient(world.live.url, world.live.token, backoff=FAST) as trace:
        await trace.start()
        done = trace.send(commands.add_member(trace.workspace_id, "grace", "member"))
        refused = trace.send(commands.add_member(trace.workspace_id, "grace", "member"))
        assert [c.status for c in trace.outbox.commands()] == ["pending", "pending"]
        box = trace.outbox.commands
        await eventually(lambda: [(c.id, c.status) for c in box()] == [(refused.id, "failed")])
        [failed] = box()
        assert failed.status == "failed" and "grace" in (failed.error or "")
        assert done.key != refused.key
        members = await trace.api.members(trace.workspace_id)
        assert "grace" in {m["user"]["name"] for m in members}


async def test_review_comments_become_one_prompt_and_are_marked_sent(world: World) -> None:
    async with TraceClient(world.live.url, world.live.token, backoff=FAST) as trace:
        await trace.start()
        await trace.open_session(world.hosted)
        doc = trace.notes_of(world.hosted).doc
        notes.add_comment(doc, trace.user_id, "app/models.py", 3, "validate the address")
        notes.add_comment(doc, trace.user_id, "app/models.py", 2, "type hints, nice")
        command = trace.send_review(world.hosted)
        assert command is not None and command.body is not None
        assert command.body["text"].splitlines()[2:] == [
            "- app/models.py:2: type hints, nice",
            "- app/models.py:3: validate the address",
        ]
        assert notes.open_comments(doc) == []
        assert trace.send_review(world.hosted) is None


async def test_a_saved_replica_opens_without_the_server(world: World, tmp_path: Path) -> None:
    app_data = tmp_path / "app-data"
    async with TraceClient(
        world.live.url, world.live.token, data_dir=app_data, backoff=FAST
    ) as trace:
        await trace.start()
        await trace.open_session(world.hosted)
        await eventually(lambda: len(trace.session(world.hosted).files) == 2)
    async with TraceClient("http://127.0.0.1:9", world.live.token, data_dir=app_data) as other:
        with pytest.raises(Unreachable):  # another server is another replica: nothing saved
            await other.start()


async def test_a_read_only_client_syncs_a_document_with_deletions(world: World) -> None:
    name = f"workspace/{world.seeded.workspace_id}"  # rewritten by the services: it has deletions
    async with SyncClient(world.live.url, name, world.live.token, read_only=True) as reader:
        await reader.wait_synced()
        with reader.doc.transaction(origin="me"):
            reader.doc.get("scratch", type=Text).insert(0, "stays local")
        await reader.wait_synced()
        assert reader.state.value == "synced"


async def test_a_session_started_from_the_app_keeps_the_spec_it_was_given(world: World) -> None:
    store = world.live.ctx.store
    [repo] = await store.repos.in_workspace(world.seeded.workspace_id)
    async with TraceClient(world.live.url, world.live.token, backoff=FAST) as trace:
        await trace.start()
        spec = SessionSpec.of(
            repo_id=repo.id, tool="codex", model="gpt-5-codex", permission_mode="bypass"
        )
        trace.send(commands.start_session(trace.workspace_id, spec))
        await eventually(lambda: len(trace.sessions()) == 4)
        [new] = [r for r in trace.sessions() if r.id not in world.seeded.sessions.values()]
    row = await store.sessions.get(new.id)
    assert (row.tool, row.model, row.permission_mode) == ("codex", "gpt-5-codex", "bypass")


@pytest.mark.parametrize(
    ("taken", "told"),
    [("membership", "no longer have access"), ("token", "no longer valid")],
)
async def test_a_member_shut_out_while_the_app_is_open_is_told_so_not_that_the_server_is_away(
    world: World, taken: str, told: str
) -> None:
    owner = {"Authorization": f"Bearer {world.live.token}"}
    members = f"{world.live.url}/api/workspaces/{world.seeded.workspace_id}/members"
    async with httpx.AsyncClient(base_url=world.live.url, headers=owner, timeout=30) as http:
        mia = (await http.post(members, json={"name": "mia", "role": "member"})).json()
        async with TraceClient(world.live.url, mia["token"], backoff=FAST) as app:
            await app.start()
            await app.open_session(world.hosted)
            assert app.connection().notice is None
            if taken == "membership":
                gone = await http.delete(f"{members}/{mia['user']['id']}")
            else:  # mia revokes the token this app signed in with (from another device)
                hers = {"Authorization": f"Bearer {mia['token']}"}
                [token] = (await http.get("/api/tokens", headers=hers)).json()["items"]
                revoke = f"/api/tokens/{token['id']}/revoke"
                gone = await http.post(revoke, headers=hers)
            assert gone.status_code in (200, 204)
            await eventually(lambda: app.connection().state == "refused")
            notice = app.connection().notice
            assert notice is not None and told in notice, notice
            assert UNREACHABLE not in notice
