"""What members write to a session's notes is checked before it applies:
comments carry their real author, the schema stays the server's, and the
document stays under 8 MiB (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pycrdt import Array, Doc, Map, Text

from tests.api.conftest import Team
from tests.conftest import eventually
from tests.support.py_client import PyClient

MiB = 1024 * 1024


def comment(author_id: str, cid: str = "c1", **fields: Any) -> dict[str, Any]:
    value = {
        "id": cid,
        "author_id": author_id,
        "path": "app.py",
        "line": 3,
        "text": "rename this",
        "at": datetime.now(UTC).isoformat(),
        "resolved": False,
    }
    return value | fields


async def notes(team: Team) -> str:
    return f"{team.live.ws_url}/sync/session/{(await team.start())['id']}/notes"


async def stored(team: Team, url: str) -> Doc:
    name = url.split("/sync/", 1)[1]
    await team.live.ctx.store.updates.flush()
    doc: Doc = Doc()
    for update in await team.live.ctx.store.updates.load(name):
        doc.apply_update(update)
    return doc


async def test_a_comment_in_someone_elses_name_is_refused_with_4403(team: Team) -> None:
    url = await notes(team)
    async with PyClient(url, team.tokens["member"]) as member:
        await member.synced.wait()
        member.doc.get("comments", type=Array).append(comment(team.users["owner"]))
        assert await member.wait_closed() == 4403
    assert list((await stored(team, url)).get("comments", type=Array)) == []


async def test_own_comments_are_kept_and_anyone_may_resolve_them(team: Team) -> None:
    url = await notes(team)
    async with PyClient(url, team.tokens["member"]) as member:
        await member.synced.wait()
        member.doc.get("comments", type=Array).append(comment(team.users["member"]))
        async with PyClient(url, team.tokens["admin"]) as admin:
            await admin.synced.wait()
            comments = admin.doc.get("comments", type=Array)
            await admin.wait_for(lambda: len(comments) == 1)
            comments[0] = comments[0] | {"resolved": True}
            await member.wait_for(
                lambda: member.doc.get("comments", type=Array)[0]["resolved"] is True
            )
            assert member.close_code is None and admin.close_code is None
    [kept] = list((await stored(team, url)).get("comments", type=Array))
    assert kept["author_id"] == team.users["member"] and kept["resolved"] is True


async def test_taking_over_a_comment_by_rewriting_its_author_is_refused(team: Team) -> None:
    url = await notes(team)
    async with PyClient(url, team.tokens["owner"]) as owner:
        await owner.synced.wait()
        owner.doc.get("comments", type=Array).append(comment(team.users["owner"]))

        async def kept() -> bool:
            return len((await stored(team, url)).get("comments", type=Array)) == 1

        await eventually(kept)
    async with PyClient(url, team.tokens["member"]) as member:
        await member.synced.wait()
        comments = member.doc.get("comments", type=Array)
        comments[0] = comments[0] | {"author_id": team.users["member"], "text": "mine now"}
        assert await member.wait_closed() == 4403
    [kept] = list((await stored(team, url)).get("comments", type=Array))
    assert kept["author_id"] == team.users["owner"] and kept["text"] == "rename this"


async def test_a_malformed_comment_is_refused_with_4400(team: Team) -> None:
    url = await notes(team)
    async with PyClient(url, team.tokens["member"]) as member:
        await member.synced.wait()
        bad = comment(team.users["member"], line="three")
        member.doc.get("comments", type=Array).append(bad)
        assert await member.wait_closed() == 4400
    assert list((await stored(team, url)).get("comments", type=Array)) == []


async def test_the_schema_version_is_the_servers(team: Team) -> None:
    url = await notes(team)
    async with PyClient(url, team.tokens["member"]) as member:
        await member.synced.wait()
        member.doc.get("meta", type=Map)["schema"] = 999
        assert await member.wait_closed() == 4403
    assert "schema" not in (await stored(team, url)).get("meta", type=Map)


async def test_notes_stop_at_8_mib_with_4413(team: Team) -> None:
    url = await notes(team)
    async with PyClient(url, team.tokens["member"]) as member:
        await member.synced.wait()
        draft = member.doc.get("draft", type=Text)
        for _ in range(9):  # nine frames of 1 MiB, each under the frame limit
            draft += "n" * MiB
        assert await member.wait_closed() == 4413
    kept = str((await stored(team, url)).get("draft", type=Text))
    assert 7 * MiB <= len(kept) <= 8 * MiB
    async with PyClient(url, team.tokens["admin"]) as other:  # the rest still works
        await other.synced.wait()
        other.doc.get("notes", type=Text).insert(0, "still here")

        async def noted() -> bool:
            return str((await stored(team, url)).get("notes", type=Text)) == "still here"

        await eventually(noted)
