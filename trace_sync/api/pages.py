"""One page shape for every list that can grow: ``{"items": [...], "next_cursor"}``.

Cursors are opaque to clients (base64url JSON): pass ``next_cursor`` back as
``?cursor=`` to get the next page; ``null`` means there is none.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from trace_sync.contract.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[T]
    #: Pass back as ``?cursor=`` for the next page; null on the last page.
    next_cursor: str | None = None


class PageQuery(BaseModel):
    """``?limit=&cursor=`` of any paged list."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=1000)


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *fields: str) -> dict[str, Any]:
    """The position in ``cursor``, which must hold ``fields``; ``InvalidInput`` if not."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("not a cursor this server made; pass next_cursor back as is") from exc
    if not isinstance(position, dict) or not all(f in position for f in fields):
        raise InvalidInput("not a cursor this server made; pass next_cursor back as is")
    return position


def page_of(
    items: Sequence[T], key: Callable[[T], Sequence[str]], query: PageQuery
) -> tuple[list[T], str | None]:
    """A keyset page of an in-memory list: the items after the cursor's key,
    in ``key`` order, so a page never repeats or skips one when others change."""
    ordered = sorted(items, key=lambda item: list(key(item)))
    if query.cursor is not None:
        after = [str(part) for part in decode_cursor(query.cursor, "after")["after"]]
        ordered = [item for item in ordered if list(key(item)) > after]
    page = ordered[: query.limit]
    more = len(ordered) > query.limit
    return page, encode_cursor({"after": list(key(page[-1]))}) if more else None
