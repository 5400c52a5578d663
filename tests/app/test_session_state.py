"""What the session view reads from its documents."""

from __future__ import annotations

from datetime import UTC, datetime

from pycrdt import Doc, Map

from trace_app.session_state import read_session
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import WORKSPACE

LISTED = e.SessionSummary(
    title="Add email to users",
    status="waiting_approval",
    tool="claude",
    repo_id="r1",
    owner_id="u1",
    last_activity=datetime(2026, 12, 6, tzinfo=UTC),
)


def _workspace() -> Doc:
    doc: Doc = Doc()
    typed.put(doc, WORKSPACE, "sessions", "s1", LISTED, origin=None)
    return doc


def test_until_the_sessions_document_arrives_its_header_is_the_workspaces_listing() -> None:
    """Not "created": that would draw a running session's requests as unanswerable."""
    header = read_session("s1", Doc(), Doc(), Doc(), _workspace()).header
    assert (header.title, header.status, header.tool) == (
        "Add email to users",
        "waiting_approval",
        "claude",
    )


def test_the_sessions_own_document_wins_once_it_has_arrived() -> None:
    session: Doc = Doc()
    session.get("meta", type=Map).update({"title": "Renamed", "status": "running"})
    header = read_session("s1", session, Doc(), Doc(), _workspace()).header
    assert (header.title, header.status) == ("Renamed", "running")


def test_a_session_the_workspace_does_not_list_reads_as_created() -> None:
    header = read_session("s9", Doc(), Doc(), Doc(), _workspace()).header
    assert (header.title, header.status) == ("s9", "created")
