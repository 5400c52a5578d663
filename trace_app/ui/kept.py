"""Controls kept across live redraws.

A view redraws whenever a document it shows changes (a heartbeat, a
transcript streaming in, someone's presence). A button made anew by a redraw
that falls between a person's press and release is not the one pressed, so
the tap is lost. A view draws each item through :class:`Kept`: the control
made last time comes back as long as what it is drawn from is unchanged::

    kept = Kept()
    rows = [kept.control(r.id, (r, phone), partial(row, r)) for r in items]
    kept.drawn()   # forget the items this redraw left out
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import flet as ft


class Kept:
    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[object, ft.Control]] = {}
        self._now: dict[Hashable, tuple[object, ft.Control]] = {}

    def control(
        self, key: Hashable, drawn_from: object, make: Callable[[], ft.Control]
    ) -> ft.Control:
        """The control for ``key``: last redraw's if ``drawn_from`` is unchanged,
        else ``make()``."""
        known = self._last.get(key)
        if known is None or known[0] != drawn_from or key in self._now:  # a repeated key: anew
            known = (drawn_from, make())
        self._now[key] = known
        return known[1]

    def drawn(self) -> None:
        """The redraw is done: what it did not draw is forgotten."""
        self._last, self._now = self._now, {}
