"""The workspace ``runtimes`` Map: each member's bridges and whether they are online."""

from __future__ import annotations

from datetime import datetime

from trace_sync.docs import typed
from trace_sync.docs.entries import RuntimeEntry, RuntimeTool
from trace_sync.docs.layouts import WORKSPACE
from trace_sync.services.documents import SERVICES, Documents, workspace_doc
from trace_sync.store import Store
from trace_sync.store.records import RuntimeRecord


class RuntimeIndex:
    def __init__(self, store: Store, documents: Documents) -> None:
        self._store = store
        self._documents = documents

    async def publish(
        self, runtime: RuntimeRecord, *, online: bool, last_seen_at: datetime | None = None
    ) -> None:
        """Show ``runtime`` in every workspace its owner belongs to."""
        entry = RuntimeEntry(
            id=runtime.id,
            name=runtime.name,
            kind=runtime.kind,  # type: ignore[arg-type]  # the store holds only valid kinds
            owner_id=runtime.owner_id,
            version=runtime.version,
            online=online,
            last_seen_at=last_seen_at or runtime.last_seen_at,
            tools=tools_of(runtime),
        )
        for workspace in await self._store.directory.list_workspaces(runtime.owner_id):
            async with self._documents.document(workspace_doc(workspace.id)) as doc:
                typed.put(doc, WORKSPACE, "runtimes", runtime.id, entry, origin=SERVICES)


def tools_of(runtime: RuntimeRecord) -> list[RuntimeTool]:
    """The tools the runtime reported in its last hello."""
    found = runtime.capabilities.get("tools", [])
    return [
        RuntimeTool(name=t["name"], available=bool(t.get("available")), version=t.get("version"))
        for t in found
        if isinstance(t, dict) and isinstance(t.get("name"), str)
    ]
