"""Real pycrdt documents and the updates their edits produce, for store tests."""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, Text

from tests.support.state import same_state


def edits(count: int, doc: Doc[Any] | None = None) -> tuple[Doc[Any], list[bytes]]:
    """Type ``count`` characters (deleting now and then) into ``doc``'s text "t";
    return the doc and one update per edit."""
    doc = doc if doc is not None else Doc()
    found: list[bytes] = []
    subscription = doc.observe(lambda event: found.append(event.update))
    text = doc.get("t", type=Text)
    for i in range(count):
        if i % 7 == 6:
            del text[len(text) // 2]
        else:
            text.insert(len(text) // 2, f"{i % 10}")
    doc.unobserve(subscription)
    return doc, found


def rebuild(updates: list[bytes]) -> Doc[Any]:
    """A fresh doc with ``updates`` applied (what a client does after ``load``)."""
    doc: Doc[Any] = Doc()
    for update in updates:
        doc.apply_update(update)
    return doc


def same(a: Doc[Any], b: Doc[Any]) -> bool:
    """Same text and same state vector."""
    text_a, text_b = str(a.get("t", type=Text)), str(b.get("t", type=Text))
    return text_a == text_b and same_state(a, b)
