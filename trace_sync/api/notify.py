"""Your notification destinations (Apprise URLs, shown masked), and action links."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from trace_sync.api.approvals import DecisionOut
from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.models import Model
from trace_sync.services.notify.channel import MAX_URL
from trace_sync.store.destinations import Destination

DESTINATIONS = "/api/me/notify"


class DestinationIn(Model):
    url: str = Field(min_length=1, max_length=MAX_URL, description="an Apprise URL (ntfy://...)")
    events: list[str] = Field(
        default_factory=list, max_length=20, description="inbox kinds to send (default: all)"
    )
    quiet: str | None = Field(None, max_length=11, description="quiet hours, HH:MM-HH:MM")
    timezone: str = Field("UTC", max_length=64, description="the quiet hours' time zone")


class DestinationOut(Model):
    id: str
    #: The URL with its secrets masked: the full URL is never shown again.
    hint: str
    events: list[str]
    quiet: str | None
    timezone: str
    created_at: datetime

    @classmethod
    def of(cls, found: Destination) -> DestinationOut:
        return cls(
            id=found.id,
            hint=found.hint,
            events=sorted(found.events),
            quiet=found.quiet,
            timezone=found.timezone,
            created_at=found.created_at,
        )


class DestinationList(Model):
    items: list[DestinationOut]


async def add(call: Call) -> DestinationOut:
    body: DestinationIn = call.body
    added = await call.ctx.notify.add(call.actor, body.url, body.events, body.quiet, body.timezone)
    return DestinationOut.of(added)


async def listing(call: Call) -> DestinationList:
    return DestinationList(
        items=[DestinationOut.of(d) for d in await call.ctx.notify.list(call.actor)]
    )


async def remove(call: Call) -> None:
    await call.ctx.notify.remove(call.actor, call.path["did"])


async def test(call: Call) -> None:
    await call.ctx.notify.test(call.actor, call.path["did"])


async def act(call: Call) -> DecisionOut:
    return DecisionOut.of(await call.ctx.action_links.use(call.path["token"]))


endpoints = [
    Endpoint(
        "POST",
        DESTINATIONS,
        add,
        "Send your inbox somewhere (any Apprise URL), for some events, outside quiet hours",
        body=DestinationIn,
        response=DestinationOut,
        status=201,
    ),
    Endpoint(
        "GET", DESTINATIONS, listing, "Your notification destinations", response=DestinationList
    ),
    Endpoint("DELETE", f"{DESTINATIONS}/{{did}}", remove, "Stop sending to a destination"),
    Endpoint("POST", f"{DESTINATIONS}/{{did}}/test", test, "Send a test notification now"),
    Endpoint(
        "POST",
        "/api/actions/{token}",
        act,
        "Approve or deny from a notification: a signed link, short-lived and single-use "
        "(whether its person may still answer is checked now)",
        response=DecisionOut,
        public=True,
    ),
]
