"""Controls kept across live redraws.

A view redraws whenever a document it shows changes (a heartbeat, a
transcript streaming in, someone's presence). A button made anew by a redraw
that falls between a person's press and release is not the one pressed, so
the tap is lost. A view draws each item through :class:`Kept`: the control
made last time comes back as long as what it is drawn from is unchanged, or,
given ``refill``, comes back refilled when it changed (an item that changes
all the time, such as a running session's row, keeps what a tap is aimed at)::

    kept = Kept()
    rows = [kept.control(r.id, (r, phone), partial(row, r)) for r in items]
    kept.drawn()   # forget the items this redraw left out
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import flet as ft

C = TypeVar("C", bound=ft.Control)


class Kept:
    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[object, Any]] = {}
        self._now: dict[Hashable, tuple[object, Any]] = {}

    def control(
        self,
        key: Hashable,
        drawn_from: object,
        make: Callable[[], C],
        refill: Callable[[C], None] | None = None,
    ) -> C:
        """The control for ``key``: last redraw's if ``drawn_from`` is unchanged (or
        once ``refill`` brought it up to date), else ``make()``."""
        known = self._last.get(key)
        changed = known is not None and known[0] != drawn_from
        if known is None or key in self._now or (changed and refill is None):  # a repeat: anew
            known = (drawn_from, make())
        elif changed and refill is not None:
            refill(known[1])
            known = (drawn_from, known[1])
        self._now[key] = known
        control: C = known[1]  # what make() made for this key
        return control

    def drawn(self) -> None:
        """The redraw is done: what it did not draw is forgotten."""
        self._last, self._now = self._now, {}
