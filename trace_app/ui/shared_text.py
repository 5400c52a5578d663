"""A text field bound to a Text root of a shared document (the prompt draft, the notes).

The field belongs to the person typing in it. In the browser, every keystroke
reaches the server as a value patch followed by a change event, and events run
later than patches, so an event's value may already be stale; writing any value
back into the field while keys are still on their way makes the browser drop
what was typed in between. So:

- what the person typed goes into the document as an edit (from what the field
  showed to what it shows now), rebased over others' edits;
- the document's text is put into the field only when it holds edits the field
  does not show (others' typing) and the person has paused for ``SETTLE_S``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import flet as ft
from pycrdt import Doc

from trace_app import notes

#: How long after a person's last keystroke their field may be given others' edits.
SETTLE_S = 0.6


class SharedText:
    def __init__(
        self,
        field: ft.TextField,
        doc_of: Callable[[], Doc[Any]],
        root: str,
        redraw_after: Callable[[float], None],
    ) -> None:
        self.field = field
        self.doc_of = doc_of
        self.root = root
        self.redraw_after = redraw_after
        #: What the person's field shows, as far as this side knows.
        self.shown = field.value or ""
        self.typed_at = -math.inf
        field.on_change = self._typed

    def _typed(self, _event: object) -> None:
        now = self.field.value or ""  # the newest value patch, newer than the event's data
        notes.type_into(self.doc_of(), self.root, self.shown, now)
        self.shown = now
        self.typed_at = time.monotonic()

    def show(self, text: str) -> None:
        """Called on every redraw with the document's text."""
        if text == self.shown:
            return
        wait = self.typed_at + SETTLE_S - time.monotonic()
        if wait > 0:
            self.redraw_after(wait)
            return
        self.field.value = self.shown = text

    def replace(self, text: str) -> None:
        """Make the document and the field read ``text`` (the draft, emptied once sent)."""
        notes.edit_text(self.doc_of(), self.root, text)
        self.field.value = self.shown = text
