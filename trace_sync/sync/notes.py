"""What members may write to ``session/<sid>/notes``, checked before it is applied.

A CRDT update cannot be taken back once applied, so a member's update is
first applied to a shadow copy of the document and checked there:

- ``meta`` is the server's (the schema version): any change is refused;
- every review comment is a valid :class:`~trace_sync.docs.entries.ReviewComment`;
  a new one carries the writer's own ``author_id``, and a changed one (a
  comment marked resolved) keeps its author;
- the document stays under ``max_bytes`` of encoded state.

Only then does the room apply it to the real document. A refused update
leaves the shadow to be rebuilt from the real document (refusals are rare:
the connection is closed with them). The shadow costs a second copy of the
document, which the size limit bounds.
"""

from __future__ import annotations

import json
from typing import Any

from pycrdt import Array, Doc, Map
from pydantic import ValidationError

from trace_sync.contract.errors import Forbidden, InvalidInput, TooLarge
from trace_sync.docs.entries import ReviewComment
from trace_sync.sync.awareness import Identity


class NotesGuard:
    def __init__(self, doc: Doc[Any], max_bytes: int) -> None:
        self._doc = doc
        self._max_bytes = max_bytes
        #: Roots of the shadow that the update being admitted changed: a
        #: keystroke in the draft checks no comments.
        self._touched: set[str] = set()
        self._shadow = self._copy()
        #: Never below the encoded size of the document: the size when last
        #: measured plus every update applied since (an update never grows a
        #: document by more than its own length).
        self._size_bound = len(doc.get_update())

    def admit(self, update: bytes, who: Identity) -> None:
        """Raise unless ``who`` may apply ``update`` to the document."""
        self._touched.clear()
        try:
            self._shadow.apply_update(update)
            self._check_size(len(update))
            if "meta" in self._touched:
                raise Forbidden("the notes' meta is written by the server only")
            if "comments" in self._touched:
                _check_comments(self._doc, self._shadow, who)
        except BaseException:
            self._shadow = self._copy()
            raise

    def follow(self, update: bytes) -> None:
        """An update reached the document (applying one twice changes nothing)."""
        self._shadow.apply_update(update)
        self._size_bound += len(update)

    def _check_size(self, grows_by: int) -> None:
        if self._size_bound + grows_by <= self._max_bytes:
            return
        size = len(self._shadow.get_update())
        if size > self._max_bytes:
            raise TooLarge(f"the notes would pass {self._max_bytes} bytes ({size})")
        self._size_bound = size - grows_by  # follow() adds the update once applied

    def _copy(self) -> Doc[Any]:
        shadow: Doc[Any] = Doc()
        shadow.apply_update(self._doc.get_update())
        # pycrdt drops an observer whose subscription is not kept.
        self._subscriptions = [
            shadow.get("meta", type=Map).observe(lambda _: self._touched.add("meta")),
            shadow.get("comments", type=Array).observe(lambda _: self._touched.add("comments")),
        ]
        return shadow


def _check_comments(doc: Doc[Any], shadow: Doc[Any], who: Identity) -> None:
    before = {_key(v): v for v in doc.get("comments", type=Array) if isinstance(v, dict)}
    authors = {v.get("id"): v.get("author_id") for v in before.values()}
    for value in shadow.get("comments", type=Array):
        if not isinstance(value, dict):
            raise InvalidInput("a review comment is a JSON object")
        if _key(value) in before:
            continue  # unchanged
        try:
            comment = ReviewComment.model_validate(value)
        except ValidationError as exc:
            raise InvalidInput(f"invalid review comment: {exc.errors()[0]['msg']}") from exc
        author = authors.get(comment.id, who.user_id)
        if comment.author_id != author:
            raise Forbidden(f"review comment {comment.id} must be authored by {author}")


def _key(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, default=str)
