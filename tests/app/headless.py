"""Flet's own Session driven in this process, no window and no browser.

A recording :class:`Connection` stands in for the Flutter client: it encodes
every message the session sends (so what a client would receive must
serialise) and keeps them. Controls are found by walking the page tree;
events are dispatched as the client would send them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import flet as ft
import msgpack
from flet.controls.context import _context_page
from flet.messaging.connection import Connection
from flet.messaging.protocol import Message, configure_encode_object_for_msgpack
from flet.messaging.session import Session
from flet.pubsub.pubsub_hub import PubSubHub

from trace_app.ui.shell import Origin, Shell

_ENCODE = configure_encode_object_for_msgpack(ft.BaseControl)


class Recorder(Connection):
    def __init__(self, loop: asyncio.AbstractEventLoop, executor: ThreadPoolExecutor) -> None:
        super().__init__()
        self.loop = loop
        self.executor = executor
        self.pubsubhub = PubSubHub(loop=loop, executor=executor)
        self.messages: list[Message] = []

    def send_message(self, message: Message) -> None:
        msgpack.packb([message.action, message.body], default=_ENCODE)
        self.messages.append(message)


class Headless:
    """One page of the app at a given size: ``async with Headless(origin, width)``."""

    def __init__(
        self, origin: Origin, width: int = 1280, height: int = 800, route: str = "/"
    ) -> None:
        self.origin = origin
        self.size = (width, height)
        self.route = route  # the browser's address as the page (re)connects
        self.executor = ThreadPoolExecutor(max_workers=2)

    async def __aenter__(self) -> Headless:
        self.conn = Recorder(asyncio.get_running_loop(), self.executor)
        self.session = Session(self.conn)
        width, height = self.size
        self.session.apply_page_patch({"width": width, "height": height, "route": self.route})
        # What REGISTER_CLIENT answers, encoded as it is for the client: encoding is what
        # lets Flet diff (and so bind to the page) what the app puts on the page next.
        msgpack.packb(self.session.get_page_patch(), default=_ENCODE)
        self.page = self.session.page
        _context_page.set(self.page)  # as FletApp does before calling main
        self.shell = Shell(self.page, self.origin)
        await self.shell.run()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shell.close()
        self.session.close()
        self.executor.shutdown(wait=False)

    # -- reading the page ----------------------------------------------------------

    def controls(self) -> Iterator[Any]:
        roots: list[Any] = [*self.page.controls]
        if self.page.navigation_bar is not None:
            roots.append(self.page.navigation_bar)
        yield from _walk(roots)

    def texts(self) -> list[str]:
        found: list[str] = []
        for c in self.controls():
            for attr in ("value", "label", "content", "title"):
                v = getattr(c, attr, None)
                if isinstance(v, str) and v:
                    found.append(v)
            spans = getattr(c, "spans", None) or []
            for span in spans:
                found.append(span.text or "")
            if spans:  # and the whole line, as a person reads it
                found.append("".join(span.text or "" for span in spans))
        return found

    def text(self) -> str:
        return "\n".join(self.texts())

    def find(self, kind: type[Any], label: str) -> Any:
        """The first control of ``kind`` whose text is ``label``."""
        for c in self.controls():
            if isinstance(c, kind) and label in _labels(c):
                return c
        raise LookupError(f"no {kind.__name__} {label!r} on the page:\n{self.text()[:2000]}")

    def tagged(self, identifier: str) -> Any:
        for c in self.controls():
            if isinstance(c, ft.Semantics) and c.identifier == identifier:
                return c
        raise LookupError(f"nothing tagged {identifier!r}")

    # -- acting --------------------------------------------------------------------

    async def click(self, control: Any, event: str = "click") -> None:
        await self.session.dispatch_event(control._i, event, None)

    async def type_into(self, field: ft.TextField, value: str, event: str | None = None) -> None:
        """What the client sends when a person types: the new value, then a change event
        (whose data is ``event`` where it lags behind, as the browser's events do)."""
        field.value = value  # the client's UPDATE_CONTROL_PROPS patch
        await self.session.dispatch_event(field._i, "change", value if event is None else event)


def _labels(c: Any) -> set[str]:
    out = set()
    for attr in ("content", "label", "value", "text"):
        v = getattr(c, attr, None)
        if isinstance(v, str):
            out.add(v)
        elif isinstance(v, ft.Text) and isinstance(v.value, str):
            out.add(v.value)
    return out


def _walk(items: list[Any]) -> Iterator[Any]:
    seen: set[int] = set()
    stack = list(reversed(items))
    while stack:
        c = stack.pop()
        if c is None or id(c) in seen or not isinstance(c, ft.BaseControl):
            continue
        seen.add(id(c))
        yield c
        children: list[Any] = []
        for attr in ("controls", "content", "title", "subtitle", "leading", "trailing", "label",
                     "destinations", "actions"):  # fmt: skip
            v = getattr(c, attr, None)
            if isinstance(v, list):
                children.extend(v)
            elif isinstance(v, ft.BaseControl):
                children.append(v)
        stack.extend(reversed(children))
