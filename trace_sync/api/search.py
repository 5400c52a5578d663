"""Search across a workspace's session history."""

from __future__ import annotations

from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.pages import decode_cursor, encode_cursor
from trace_sync.api.session_models import SearchHitOut, SearchPage, SearchQuery, SessionOut


async def search(call: Call) -> SearchPage:
    """Ranked results have no stable key, so the cursor is an offset."""
    query: SearchQuery = call.query
    offset = int(decode_cursor(query.cursor, "offset")["offset"]) if query.cursor else 0
    found = await call.ctx.search.search(
        call.actor, call.path["wid"], query.q, limit=query.limit + 1, offset=offset
    )
    page = found[: query.limit]
    cursor = encode_cursor({"offset": offset + query.limit}) if len(found) > query.limit else None
    items = [
        SearchHitOut(session=SessionOut.of(f.session), kind=f.hit.kind, snippet=f.hit.snippet)
        for f in page
    ]
    return SearchPage(items=items, next_cursor=cursor)


endpoints = [
    Endpoint(
        "GET",
        "/api/workspaces/{wid}/search",
        search,
        "Sessions whose title, prompts or transcript match every word of ?q= (as prefixes)",
        query=SearchQuery,
        response=SearchPage,
    ),
]
