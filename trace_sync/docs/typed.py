"""Typed reads and writes of document roots.

Writes go through a transaction with an origin (so they never echo back to
their source) and are validated first. Reads validate too: a value another
writer stored in a bad shape comes back as :class:`Flagged`, never trusted.

>>> from pycrdt import Doc
>>> from trace_sync.docs.entries import MemberEntry
>>> from trace_sync.docs.layouts import WORKSPACE
>>> doc = Doc()
>>> put(doc, WORKSPACE, "members", "u_1", MemberEntry(name="ada", role="owner"), origin="svc")
>>> read_map(doc, WORKSPACE, "members")["u_1"].name
'ada'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pycrdt import Array, Doc, Map, Text
from pydantic import BaseModel, ValidationError

from trace_sync.contract.errors import InvalidInput
from trace_sync.docs.layouts import Layout, Root

M = TypeVar("M", bound=BaseModel)

_TYPES: dict[str, type[Map[Any] | Array[Any] | Text]] = {"Map": Map, "Array": Array, "Text": Text}


@dataclass(frozen=True)
class Flagged:
    """A stored value that does not match its root's entry model."""

    raw: Any
    problem: str


def root_of(doc: Doc[Any], layout: Layout, name: str) -> Any:
    root = layout.root(name)
    return doc.get(root.name, type=_TYPES[root.ytype])


def put(
    doc: Doc[Any], layout: Layout, root: str, key: str, entry: BaseModel, *, origin: Any
) -> None:
    """Set ``key`` of a Map root to ``entry`` (replacing the whole value)."""
    _check(layout.root(root), entry)
    with doc.transaction(origin=origin):
        root_of(doc, layout, root)[key] = entry.model_dump(mode="json", exclude_none=True)


def put_fields(doc: Doc[Any], layout: Layout, root: str, fields: BaseModel, *, origin: Any) -> None:
    """Write each field of ``fields`` as a key of a Map root (others stay as they are)."""
    values = fields.model_dump(mode="json", exclude_unset=True)
    with doc.transaction(origin=origin):
        target = root_of(doc, layout, root)
        for key, value in values.items():
            if target.get(key) != value:
                target[key] = value


def read_fields(doc: Doc[Any], layout: Layout, root: str, model: type[M]) -> M | Flagged:
    """A Map root read as one ``model`` (the inverse of :func:`put_fields`)."""
    return _parse(model, dict(root_of(doc, layout, root).items()))


def delete(doc: Doc[Any], layout: Layout, root: str, key: str, *, origin: Any) -> None:
    """Remove ``key`` from a Map root, if present."""
    with doc.transaction(origin=origin):
        target = root_of(doc, layout, root)
        if key in target:
            del target[key]


def append(doc: Doc[Any], layout: Layout, root: str, entry: BaseModel, *, origin: Any) -> None:
    """Append ``entry`` to an Array root."""
    _check(layout.root(root), entry)
    with doc.transaction(origin=origin):
        root_of(doc, layout, root).append(entry.model_dump(mode="json", exclude_none=True))


def read_map(doc: Doc[Any], layout: Layout, root: str) -> dict[str, BaseModel | Flagged]:
    model = _model(layout.root(root))
    return {key: _parse(model, value) for key, value in root_of(doc, layout, root).items()}


def read_array(doc: Doc[Any], layout: Layout, root: str) -> list[BaseModel | Flagged]:
    model = _model(layout.root(root))
    return [_parse(model, value) for value in root_of(doc, layout, root)]


def _check(root: Root, entry: BaseModel) -> None:
    if root.entry is not None and not isinstance(entry, root.entry):
        raise InvalidInput(
            f"root {root.name!r} holds {root.entry.__name__}, not {type(entry).__name__}"
        )


def _model(root: Root) -> type[BaseModel]:
    if root.entry is None:
        raise InvalidInput(f"root {root.name!r} has no entry model")
    return root.entry


def _parse(model: type[M], value: Any) -> M | Flagged:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        return Flagged(value, str(exc))
