"""Schema versions: every document records the layout version it was written with.

A step upgrades a document from version N to N+1 in place (one transaction).
Add steps to :data:`STEPS` when a layout's version goes up; readers then call
:func:`migrate` after loading a document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pycrdt import Doc, Map

from trace_sync.contract.errors import Conflict
from trace_sync.docs.layouts import LAYOUTS, Layout
from trace_sync.docs.names import DocKind

Step = Callable[[Doc[Any]], None]

#: (kind, from version) -> step to the next version. None yet: all layouts are at 1.
STEPS: dict[tuple[DocKind, int], Step] = {}


def schema_version(doc: Doc[Any]) -> int | None:
    version = doc.get("meta", type=Map).get("schema")
    return None if version is None else int(version)


def migrate(doc: Doc[Any], kind: DocKind, *, origin: Any) -> int:
    """Bring ``doc`` to the current layout version of ``kind`` and return it."""
    layout: Layout = LAYOUTS[kind]
    with doc.transaction(origin=origin):
        version = schema_version(doc)
        if version is None:
            doc.get("meta", type=Map)["schema"] = layout.version
            return layout.version
        if version > layout.version:
            raise Conflict(
                f"{kind.value} document has schema {version}, newer than {layout.version}"
            )
        while version < layout.version:
            STEPS[(kind, version)](doc)
            version += 1
            doc.get("meta", type=Map)["schema"] = version
    return version
