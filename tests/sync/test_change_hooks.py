"""Change hooks see what entered through this process, not what another
cluster member stored and passed on (its own hooks took that in)."""

from __future__ import annotations

from pycrdt import Doc, Text

from trace_sync.metrics import Metrics
from trace_sync.store import Store
from trace_sync.sync.rooms import DocumentChanged, Rooms


def edit_elsewhere(text: str) -> bytes:
    """An update made by another process's client."""
    doc: Doc = Doc()
    doc.get("t", type=Text).insert(0, text)
    return doc.get_update()


async def test_hooks_see_local_changes_and_loads_but_not_other_processes(store: Store) -> None:
    seen: list[bool] = []  # each call's ``loaded``

    def hook(change: DocumentChanged) -> None:
        seen.append(change.loaded)

    async with Rooms(store.updates, Metrics(), grace_s=60) as rooms:
        rooms.on_change(hook)
        async with rooms.open("doc") as room:
            text = room.doc.get("t", type=Text)
            assert seen == [True]
            room.apply_remote(edit_elsewhere("remote "))
            assert str(text) == "remote " and seen == [True]  # applied, not hooked
            text.insert(0, "local ")
            assert seen == [True, False]
