"""Every keyboard shortcut of the app, in one table: the shell dispatches from it and the
``?`` overlay lists it, so the two cannot disagree.

>>> action_for(combo("J"), typing=False)
'next_session'
>>> action_for(combo("/", shift=True), typing=False)
'help'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    #: The key as :func:`combo` names it (what the overlay shows too).
    keys: tuple[str, ...]
    action: str
    #: What it does, as the overlay says it.
    does: str
    #: The overlay's heading it is listed under.
    where: str
    #: Also while a text field has the focus (a letter typed there is just a letter).
    typing: bool = False


ANYWHERE, LIST, SESSION, REQUEST, FILES = "Anywhere", "Sessions", "A session", "Requests", "Files"

KEYS: tuple[Key, ...] = (
    Key(("?",), "help", "Show or hide this list of keys", ANYWHERE),
    Key(("Esc",), "back", "Close this list; in a session, back to the list", ANYWHERE),
    Key(("/",), "search", "Search sessions", ANYWHERE),
    Key(("j", "Down"), "next_session", "Next session", ANYWHERE),
    Key(("k", "Up"), "previous_session", "Previous session", ANYWHERE),
    Key(("Enter", "o"), "open", "Open the highlighted session", LIST),
    Key(("]",), "next_pane", "Next pane", SESSION),
    Key(("[",), "previous_pane", "Previous pane", SESSION),
    Key(("c",), "compose", "Write in the shared draft", SESSION),
    Key(("Ctrl+Enter", "Meta+Enter"), "send", "Send the draft", SESSION, typing=True),
    Key(("n",), "next_request", "Focus the next pending request", REQUEST),
    Key(("Shift+N",), "previous_request", "Focus the previous pending request", REQUEST),
    Key(("a",), "approve", "Approve the focused request", REQUEST),
    Key(("Shift+A",), "allow_always", "Allow it for this session", REQUEST),
    Key(("d",), "deny", "Deny the focused request", REQUEST),
    Key(tuple("123456789"), "option", "Answer the focused question with that option", REQUEST),
    Key(("r",), "reply", "Type an answer to the focused question", REQUEST),
    Key(("f",), "next_file", "Next changed file", FILES),
    Key(("Shift+F",), "previous_file", "Previous changed file", FILES),
    Key(("v",), "viewed", "Mark the file viewed, or not", FILES),
    Key(("Tab", "Shift+Tab"), "", "Move between buttons and fields (Space presses)", ANYWHERE),
)  # fmt: skip

#: Flutter's names of keys -> the table's.
_NAMES = {"Escape": "Esc", "Arrow Down": "Down", "Arrow Up": "Up", "Numpad Enter": "Enter"}
#: A shifted key that arrives as its unshifted one (US layout).
_SHIFTED = {"/": "?", "1": "!", "[": "{", "]": "}"}


def combo(
    key: str, *, shift: bool = False, ctrl: bool = False, alt: bool = False, meta: bool = False
) -> str:
    """The table's name for a key press: ``"j"``, ``"Shift+A"``, ``"Ctrl+Enter"``, ``"?"``."""
    name = _NAMES.get(key, key)
    if len(name) == 1 and name.isalpha():  # Flutter names letters in capitals
        name = name.upper() if shift else name.lower()
    elif len(name) == 1 and shift:  # "?" may come as "?" or as Shift+"/"
        name, shift = _SHIFTED.get(name, name), False
    mods = [m for m, on in (("Ctrl", ctrl), ("Alt", alt), ("Meta", meta), ("Shift", shift)) if on]
    return "+".join([*mods, name])


def action_for(pressed: str, *, typing: bool) -> str | None:
    """The action of the key ``pressed`` (a :func:`combo`), or None."""
    for key in KEYS:
        if pressed in key.keys and key.action and (key.typing or not typing):
            return key.action
    return None


def listed() -> list[tuple[str, list[Key]]]:
    """The table by heading, in order: what the overlay shows."""
    groups: dict[str, list[Key]] = {}
    for key in KEYS:
        groups.setdefault(key.where, []).append(key)
    return list(groups.items())


def step(items: list[str], at: str | None, by: int) -> str:
    """The item ``by`` places from ``at`` (round the ends; from the first or the last
    when ``at`` is not there): where next and previous keys lead."""
    if at not in items:
        return items[0] if by > 0 else items[-1]
    return items[(items.index(at) + by) % len(items)]
