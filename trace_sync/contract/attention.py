"""The kinds of things that need a person (inbox items), and how each is said."""

from __future__ import annotations

#: Inbox kind -> what a notification's headline says after the session's title.
HEADLINES: dict[str, str] = {
    "approval": "needs your approval",
    "question": "has a question for you",
    "failed": "failed",
    "interrupted": "was interrupted",
    "finished": "finished its turn",
    "handoff": "is yours now",
    "mention": "mentions you",
    "budget": "reached its budget",
    "limit": "reached a limit of its runtime",
}
#: Every kind, in that order (what ``trace notify add --events`` takes).
KINDS: tuple[str, ...] = tuple(HEADLINES)


def headline(title: str, kind: str) -> str:
    """``"Port the parser needs your approval"``."""
    return f"{title} {HEADLINES.get(kind, 'needs you')}"
