"""What reaches the API is checked the same way on both databases: NUL in any
text is refused naming the field, deep or huge bodies are refused, every error
is the one JSON shape, and a failed write leaves the session as it was."""

from __future__ import annotations

from typing import Any

import pytest
import websockets
from pycrdt import Array
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import Team
from trace_sync.app import MAX_BODY_BYTES

NUL = "\u0000"


async def prompts_in(team: Team, sid: str) -> list[str]:
    async with team.live.ctx.sync.rooms.document(f"session/{sid}") as doc:
        return [p["text"] for p in doc.get("prompts", type=Array)]


def refused(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]["message"]
    assert all(word in message for word in words), message


async def test_a_nul_in_any_text_is_refused_naming_the_field(team: Team) -> None:
    sid = (await team.start(title="first"))["id"]
    api = team.api("owner")
    attempts: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/api/workspaces", {"name": f"a{NUL}b"}, "name"),
        ("PATCH", f"/api/sessions/{sid}", {"title": f"t{NUL}"}, "title"),
        ("POST", f"/api/sessions/{sid}/prompts", {"text": f"ls{NUL}"}, "text"),
        ("POST", f"/api/workspaces/{team.wid}/repos", {"source": f"{NUL}/etc"}, "source"),
        ("POST", f"/api/workspaces/{team.wid}/members", {"name": f"x{NUL}"}, "name"),
    ]
    for method, path, body, field in attempts:
        refused(await api.request(method, path, json=body), 422, field, "NUL")
    search = await api.get(f"/api/workspaces/{team.wid}/search", params={"q": f"a{NUL}"})
    refused(search, 422, "q", "NUL")
    assert (await api.get(f"/api/sessions/{sid}")).json()["title"] == "first"


async def test_a_retried_nul_prompt_stores_nothing(team: Team) -> None:
    sid = (await team.start())["id"]
    headers = {"Idempotency-Key": "prompt-1"}
    for _ in range(2):
        answer = await team.api("owner").post(
            f"/api/sessions/{sid}/prompts", json={"text": f"echo {NUL}"}, headers=headers
        )
        refused(answer, 422, "text")
    assert await prompts_in(team, sid) == []


async def test_a_failed_insert_leaves_the_document_alone_and_shows_no_sql(team: Team) -> None:
    sid = (await team.start())["id"]
    async with team.live.ctx.store.db.begin() as conn:
        await conn.execute(text("DROP TABLE search_entries"))
    answer = await team.api("owner").post(
        f"/api/sessions/{sid}/prompts", json={"text": "secret-prompt"}
    )
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "store_unavailable"
    assert "secret-prompt" not in answer.text and "INSERT" not in answer.text.upper()
    assert await prompts_in(team, sid) == []


async def test_deep_json_is_refused_in_the_error_shape(team: Team) -> None:
    deep = "[" * 5000 + "]" * 5000
    headers = {"Content-Type": "application/json"}
    answer = await team.api("owner").post("/api/workspaces", content=deep, headers=headers)
    refused(answer, 422, "deeper")
    nested: Any = "x"
    for _ in range(100):
        nested = {"a": nested}
    answer = await team.api("owner").post("/api/workspaces", json={"name": "n", "x": nested})
    refused(answer, 422, "deeper")


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_body_over_one_mebibyte_is_refused_in_the_error_shape(
    team: Team, streamed: bool
) -> None:
    body = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'

    async def chunks() -> Any:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    content: Any = chunks() if streamed else body
    answer = await team.api("owner").post("/api/workspaces", content=content)
    refused(answer, 413, str(MAX_BODY_BYTES))


async def test_deep_json_on_the_bridge_socket_closes_it_with_4400(team: Team) -> None:
    url = f"{team.live.ws_url}/bridge?token={team.tokens['runtime']}"
    async with websockets.connect(url) as ws:
        await ws.send("[" * 5000 + "]" * 5000)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
