"""The key table: what a key press is called, and which presses count while typing."""

from __future__ import annotations

from trace_app import keymap
from trace_app.keymap import action_for, combo


def test_a_press_is_named_as_the_table_and_the_overlay_write_it() -> None:
    assert combo("J") == "j"  # Flutter names letters in capitals
    assert combo("A", shift=True) == "Shift+A"
    assert combo("/", shift=True) == combo("?", shift=True) == "?"  # either way it arrives
    assert combo("Enter", ctrl=True) == "Ctrl+Enter"
    assert combo("Escape") == "Esc" and combo("Arrow Down") == "Down"


def test_letters_typed_into_a_field_stay_letters_but_sending_still_works() -> None:
    assert action_for("j", typing=False) == "next_session"
    assert action_for("j", typing=True) is None
    assert action_for("?", typing=True) is None
    assert action_for("Ctrl+Enter", typing=True) == "send"
    assert action_for("x", typing=False) is None


def test_the_overlay_lists_every_key_once_and_no_key_means_two_things() -> None:
    listed = [key for _, keys in keymap.listed() for key in keys]
    assert listed == sorted(
        keymap.KEYS, key=lambda k: [g for g, _ in keymap.listed()].index(k.where)
    )
    presses = [p for key in keymap.KEYS for p in key.keys]
    assert len(presses) == len(set(presses))


def test_next_and_previous_go_round_the_ends() -> None:
    assert keymap.step(["a", "b", "c"], "c", 1) == "a"
    assert keymap.step(["a", "b", "c"], "a", -1) == "c"
    assert keymap.step(["a", "b"], None, 1) == "a" and keymap.step(["a", "b"], None, -1) == "b"
