"""Typed document access: validated writes, flagged bad reads, schema versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pycrdt import Array, Doc, Map

from trace_sync.contract.errors import Conflict, InvalidInput
from trace_sync.docs.entries import MemberEntry, TimelineEvent, ToolCall, TranscriptEntry
from trace_sync.docs.layouts import SESSION, SESSION_IO, WORKSPACE
from trace_sync.docs.migrations import migrate, schema_version
from trace_sync.docs.names import DocKind
from trace_sync.docs.typed import Flagged, append, put, read_array, read_map


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


def test_transcript_entries_read_back_as_their_kind_and_unknown_kinds_are_kept() -> None:
    doc = Doc()
    now = datetime.now(UTC)
    call = ToolCall(id="t1", at=now, call_id="c1", name="Bash", input={"command": "ls"})
    append(doc, SESSION_IO, "transcript", call, origin="runtime")
    future = {"id": "t2", "kind": "hologram", "at": now.isoformat(), "beam": 3}
    typed_root = doc.get("transcript", type=Array)
    typed_root.append(future)
    typed_root.append({"id": "t3", "kind": "tool_call", "at": now.isoformat()})
    first, second, third = read_array(doc, SESSION_IO, "transcript")
    assert first == call
    assert isinstance(second, TranscriptEntry) and second.model_extra == {"beam": 3}
    assert isinstance(third, Flagged) and "name" in third.problem
