"""Typed document access: validated writes, flagged bad reads, schema versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pycrdt import Doc, Map

from trace_sync.docs.entries import MemberEntry, TimelineEvent
from trace_sync.docs.layouts import SESSION, WORKSPACE
from trace_sync.docs.migrations import migrate, schema_version
from trace_sync.docs.names import DocKind
from trace_sync.docs.typed import Flagged, append, put, read_array, read_map
from trace_sync.errors import Conflict, InvalidInput


def test_entries_written_by_one_replica_read_back_typed_on_another() -> None:
    doc = Doc()
    put(doc, WORKSPACE, "members", "u_1", MemberEntry(name="ada", role="admin"), origin="svc")
    event = TimelineEvent(id="e1", at=datetime.now(UTC), actor_id="u_1", kind="created")
    append(doc, SESSION, "timeline", event, origin="svc")
    replica = Doc()
    replica.apply_update(doc.get_update())
    assert read_map(replica, WORKSPACE, "members") == {"u_1": MemberEntry(name="ada", role="admin")}
    assert read_array(replica, SESSION, "timeline") == [event]


def test_a_badly_shaped_value_is_flagged_not_trusted() -> None:
    doc = Doc()
    doc.get("members", type=Map)["u_2"] = {"name": "eve", "role": "superuser"}
    [flagged] = read_map(doc, WORKSPACE, "members").values()
    assert isinstance(flagged, Flagged) and "role" in flagged.problem


def test_writing_the_wrong_entry_into_a_root_is_refused() -> None:
    event = TimelineEvent(id="e1", at=datetime.now(UTC), actor_id="u", kind="k")
    with pytest.raises(InvalidInput):
        put(Doc(), WORKSPACE, "members", "u_1", event, origin="svc")


def test_a_new_document_is_stamped_and_a_newer_one_refused() -> None:
    doc = Doc()
    assert migrate(doc, DocKind.SESSION, origin="svc") == 1 == schema_version(doc)
    doc.get("meta", type=Map)["schema"] = 99
    with pytest.raises(Conflict):
        migrate(doc, DocKind.SESSION, origin="svc")
