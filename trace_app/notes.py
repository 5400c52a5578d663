"""The members' document of a session (``session/<sid>/notes``): the shared
prompt draft, review comments, free notes, and who is looking.

Every write is a CRDT edit inside a transaction with an origin, so edits
made offline by several people merge when they reconnect.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pycrdt import Doc, Text

from trace_app.local_replica import LocalReplica
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION_NOTES

ORIGIN = "trace-app"
#: Colours people's cursors are drawn in, picked by user id.
COLOURS = ("#e57373", "#64b5f6", "#81c784", "#ffb74d", "#ba68c8", "#4db6ac", "#f06292")


def splice(old: str, new: str) -> tuple[int, int, str]:
    """The one span that turns ``old`` into ``new``: (start, characters removed, text inserted)."""
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0
    while end < limit - start and old[-1 - end] == new[-1 - end]:
        end += 1
    return start, len(old) - end - start, new[start : len(new) - end]


def edit_text(doc: Doc[Any], root: str, new: str) -> None:
    """Make Text ``root`` read ``new`` with the smallest edit (replacing everything
    would undo what others typed meanwhile)."""
    type_into(doc, root, str(doc.get(root, type=Text)), new)


def type_into(doc: Doc[Any], root: str, before: str, after: str) -> None:
    """Apply what a person typed (their field went from ``before`` to ``after``) to
    Text ``root``, which may hold others' edits the field does not show yet: those
    stay, and the typing lands where it was meant (shifted past edits made before it).

    A field reports whole values; writing a whole value would delete the others' edits.
    """
    text = doc.get(root, type=Text)
    start, removed, inserted = splice(before, after)
    if not removed and not inserted:
        return
    theirs, their_removed, their_inserted = splice(before, str(text))
    if theirs + their_removed <= start:
        start += len(their_inserted) - their_removed
    start = min(start, len(text))
    removed = min(removed, len(text) - start)
    with doc.transaction(origin=ORIGIN):
        if removed:
            del text[start : start + removed]
        if inserted:
            text.insert(start, inserted)


def add_comment(doc: Doc[Any], author_id: str, path: str, line: int, text: str) -> None:
    comment = e.ReviewComment(
        id=uuid.uuid4().hex[:12],
        author_id=author_id,
        path=path,
        line=line,
        text=text.strip(),
        at=datetime.now(UTC),
    )
    typed.append(doc, SESSION_NOTES, "comments", comment, origin=ORIGIN)


def open_comments(doc: Doc[Any]) -> list[e.ReviewComment]:
    values = typed.read_array(doc, SESSION_NOTES, "comments")
    return [c for c in values if isinstance(c, e.ReviewComment) and not c.resolved]


def review_prompt(doc: Doc[Any]) -> str | None:
    """The open review comments as one prompt for the agent, by file and line."""
    comments = sorted(open_comments(doc), key=lambda c: (c.path, c.line))
    if not comments:
        return None
    lines = ["Please address these review comments on your changes:", ""]
    for c in comments:
        lines.append(f"- {c.path}:{c.line}: {c.text}")
    return "\n".join(lines)


def resolve_all(doc: Doc[Any]) -> None:
    """Mark every open comment resolved (they were sent to the agent)."""
    array = typed.root_of(doc, SESSION_NOTES, "comments")
    with doc.transaction(origin=ORIGIN):
        for i, value in enumerate(list(array)):
            if isinstance(value, dict) and not value.get("resolved"):
                array[i] = value | {"resolved": True}


def look_at(replica: LocalReplica, user_id: str, name: str, cursor: int | None) -> None:
    """Tell the others who is looking, and where the cursor is in the draft."""
    colour = COLOURS[sum(map(ord, user_id)) % len(COLOURS)]
    replica.set_presence({"user_id": user_id, "name": name, "colour": colour, "cursor": cursor})


def viewers(replica: LocalReplica) -> list[dict[str, Any]]:
    """Everyone else looking at this session: one entry per person, however many
    tabs they have open (the server stamps the authenticated ``user_id``)."""
    people: dict[str, dict[str, Any]] = {}
    for state in replica.peers.values():
        if not isinstance(state, dict) or not state.get("user_id"):
            continue
        uid = str(state["user_id"])
        known = people.get(uid)
        if known is None or known.get("cursor") is None:
            people[uid] = state  # a tab with a cursor says more than one without
    return sorted(people.values(), key=lambda s: str(s.get("name")))
