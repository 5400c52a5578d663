"""Shared text edits: what a person typed lands in the document without undoing others'."""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, Text

from trace_app import notes


def draft(text: str) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    doc.get("draft", type=Text).insert(0, text)
    return doc


def test_typing_lands_after_an_edit_the_field_did_not_show_yet() -> None:
    doc = draft("Add email.")
    notes.type_into(doc, "draft", "Add email.", "Add email.")  # nothing typed: nothing written
    doc.get("draft", type=Text).insert(0, "Please: ")  # someone else, not yet in my field
    notes.type_into(doc, "draft", "Add email.", "Add email. And docs.")
    assert str(doc.get("draft", type=Text)) == "Please: Add email. And docs."


def test_deleting_before_another_persons_edit_keeps_it() -> None:
    doc = draft("Add email to users.")
    doc.get("draft", type=Text).insert(19, " Now.")  # someone else, at the end
    notes.type_into(doc, "draft", "Add email to users.", "Add email.")
    assert str(doc.get("draft", type=Text)) == "Add email. Now."


def test_a_whole_value_becomes_the_smallest_edit() -> None:
    assert notes.splice("Also add", "Also a migration") == (6, 2, " migration")
    doc = draft("Please add ")
    notes.edit_text(doc, "draft", "Please add a test")
    assert str(doc.get("draft", type=Text)) == "Please add a test"
