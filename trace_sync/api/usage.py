"""A workspace's usage totals: cost and tokens per day, member or tool."""

from __future__ import annotations

from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.pages import page_of
from trace_sync.api.read_models import UsageOut, UsagePage, UsageQuery


async def usage(call: Call) -> UsagePage:
    query: UsageQuery = call.query
    totals = await call.ctx.usage.totals(call.actor, call.path["wid"], query.by)
    order = {t.key: i for i, t in enumerate(totals)}
    page, cursor = page_of(totals, lambda t: (f"{order[t.key]:09d}",), query)
    items = [
        UsageOut(
            key=t.key,
            label=t.label,
            sessions=len(t.sessions),
            input_tokens=t.input_tokens,
            output_tokens=t.output_tokens,
            cost_usd=round(t.cost_usd, 6),
            estimated=t.estimated,
        )
        for t in page
    ]
    return UsagePage(items=items, next_cursor=cursor, by=query.by)


endpoints = [
    Endpoint(
        "GET",
        "/api/workspaces/{wid}/usage",
        usage,
        "Cost and tokens of the sessions you may see, per day (UTC), member or tool",
        query=UsageQuery,
        response=UsagePage,
    ),
]
