"""Bad input and forbidden writes close one connection with the documented
code; everyone else keeps being served and nothing stored changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pycrdt import Doc

from tests.support.live import LiveServer, serve
from tests.support.py_client import PyClient
from tests.sync.conftest import new_member, new_session, notes_url, settings_for
from trace_sync.contract import sync_protocol as p
from trace_sync.store.records import Role


@pytest.fixture
async def watched(server: LiveServer) -> AsyncIterator[tuple[str, PyClient]]:
    """A document with content and a bystander connected to it."""
    url = notes_url(server, await new_session(server))
    async with PyClient(url, server.token) as bystander:
        await bystander.synced.wait()
        bystander.edit(0, "precious")
        yield url, bystander


async def stored_text(server: LiveServer, url: str) -> str:
    await server.ctx.store.updates.flush()
    async with PyClient(url, server.token) as reader:
        await reader.synced.wait()
        return str(reader.text)


async def still_served(bystander: PyClient, server: LiveServer, url: str) -> None:
    async with PyClient(url, server.token) as other:
        await other.synced.wait()
        other.edit(0, ">")
        await bystander.wait_for(lambda: str(bystander.text).startswith(">"))


@pytest.mark.parametrize(
    "frame",
    [
        b"\x00",  # sync message with nothing after its type
        b"\x00\x00\xff\xff",  # truncated varint
        b"\x07\x00",  # unknown message type
        b"\x00\x09\x00",  # unknown sync sub-type
        p.update_message(b"\x05\x05garbage"),  # an update pycrdt cannot decode
        p.sync_step1(b"") + b"\x00",  # trailing bytes
    ],
)
async def test_malformed_frames_close_with_4400(
    server: LiveServer, watched: tuple[str, PyClient], frame: bytes
) -> None:
    url, bystander = watched
    await bystander.wait_for(lambda: str(bystander.text) == "precious")
    async with PyClient(url, server.token) as offender:
        await offender.synced.wait()
        await offender.send_raw(frame)
        assert await offender.wait_closed() == 4400
    await still_served(bystander, server, url)


async def test_text_frames_close_with_4400(
    server: LiveServer, watched: tuple[str, PyClient]
) -> None:
    url, _ = watched
    async with PyClient(url, server.token) as offender:
        assert offender._ws is not None
        await offender._ws.send("hello")
        assert await offender.wait_closed() == 4400


async def test_a_viewer_cannot_write_but_still_follows(
    server: LiveServer, watched: tuple[str, PyClient]
) -> None:
    url, bystander = watched
    viewer_token = await new_member(server, "vera", Role.VIEWER)
    async with PyClient(url, viewer_token) as follower, PyClient(url, viewer_token) as writer:
        await follower.synced.wait()
        await writer.synced.wait()  # its empty step 2 was accepted
        bystander.edit(0, "new ")
        await follower.wait_for(lambda: str(follower.text) == "new precious")
        writer.edit(0, "vandal ")
        assert await writer.wait_closed() == 4403
    assert await stored_text(server, url) == "new precious"


@pytest.mark.parametrize("token", [None, "", "nonsense", "trace_t_abc_" + "x" * 43])
async def test_missing_and_bad_tokens_close_with_4401(
    server: LiveServer, token: str | None
) -> None:
    url = notes_url(server, await new_session(server))
    async with PyClient(url, token) as stranger:
        assert await stranger.wait_closed() == 4401


async def test_a_revoked_token_is_refused(server: LiveServer) -> None:
    url = notes_url(server, await new_session(server))
    token = await new_member(server, "max", Role.MEMBER)
    async with PyClient(url, token) as before:
        await before.synced.wait()
    token_id = token.split("_")[1] + "_" + token.split("_")[2]
    await server.ctx.accounts.retire_token(token_id)
    async with PyClient(url, token) as after:
        assert await after.wait_closed() == 4401


@pytest.mark.parametrize(
    "doc", ["session/s_nope/notes", "workspace/w_nope", "not-a-document", "session/x/../y"]
)
async def test_unknown_documents_close_with_4404(server: LiveServer, doc: str) -> None:
    async with PyClient(f"{server.ws_url}/sync/{doc}", server.token) as client:
        assert await client.wait_closed() == 4404


async def test_a_stranger_cannot_open_a_private_session(server: LiveServer) -> None:
    url = notes_url(server, await new_session(server, private=True))
    token = await new_member(server, "mia", Role.MEMBER)
    async with PyClient(url, token) as stranger:
        assert await stranger.wait_closed() == 4404


async def test_an_oversized_frame_closes_with_4413(tmp_path: Path) -> None:
    async with serve(settings_for(tmp_path, max_frame_bytes=64 * 1024)) as live:
        url = notes_url(live, await new_session(live))
        async with PyClient(url, live.token) as big:
            await big.synced.wait()
            await big.send_raw(p.update_message(b"\x00" * 100_000))
            assert await big.wait_closed() == 4413


async def test_connection_rate_and_open_documents_close_with_4429(tmp_path: Path) -> None:
    async with serve(settings_for(tmp_path, connections_per_minute=3)) as live:
        url = notes_url(live, await new_session(live))
        codes = []
        for _ in range(4):
            async with PyClient(url, live.token) as client:
                await client.wait_for(
                    lambda c=client: c.synced.is_set() or c.close_code is not None
                )
            codes.append(client.close_code)
        assert codes[-1] == 4429 and 4429 not in codes[:3]
    async with serve(settings_for(tmp_path / "b", max_documents_per_token=1)) as live:
        url = notes_url(live, await new_session(live))
        async with PyClient(url, live.token) as first:
            await first.synced.wait()
            async with PyClient(url, live.token) as second:
                assert await second.wait_closed() == 4429


async def test_a_viewer_whose_handshake_carries_deletions_keeps_following(
    server: LiveServer, watched: tuple[str, PyClient]
) -> None:
    url, bystander = watched
    bystander.text.insert(0, "x")
    del bystander.text[0:1]  # the document now has a delete set
    await bystander.wait_for(lambda: str(bystander.text) == "precious")
    replica = Doc()
    replica.apply_update(bystander.doc.get_update())
    viewer_token = await new_member(server, "vera", Role.VIEWER)
    async with PyClient(url, viewer_token, doc=replica) as follower:
        await follower.synced.wait()
        bystander.edit(0, "still ")
        await follower.wait_for(lambda: str(follower.text) == "still precious")
        assert follower.close_code is None
