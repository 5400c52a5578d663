"""The client authors' reference page names every root the code defines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trace_sync.contract.session_spec import SessionSpec
from trace_sync.contract.tools import PERMISSION_MODES, TOOL_LABELS, TOOLS
from trace_sync.docs.entries import SessionMeta
from trace_sync.docs.layouts import LAYOUTS, Layout
from trace_sync.docs.names import DocKind, DocName

PAGE = Path(__file__).resolve().parents[2] / "trace_sync" / "docs" / "REFERENCE.md"
EXAMPLE = {
    DocKind.WORKSPACE: DocName(DocKind.WORKSPACE, workspace_id="<wid>"),
    DocKind.SESSION: DocName(DocKind.SESSION, session_id="<sid>"),
    DocKind.SESSION_IO: DocName(DocKind.SESSION_IO, session_id="<sid>"),
    DocKind.SESSION_NOTES: DocName(DocKind.SESSION_NOTES, session_id="<sid>"),
    DocKind.SESSION_LOG: DocName(DocKind.SESSION_LOG, session_id="<sid>", segment="<segment>"),
    DocKind.PERSON: DocName(DocKind.PERSON, user_id="<uid>"),
}


def sections() -> dict[str, str]:
    parts = re.split(r"^## `([^`]+)`.*$", PAGE.read_text(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=lambda layout: layout.kind.value)
def test_the_page_documents_every_root(layout: Layout) -> None:
    section = sections()[str(EXAMPLE[layout.kind])]
    documented = set(re.findall(r"^\| `(\w+)` \| (\w+) \|", section, flags=re.MULTILINE))
    assert documented == {(root.name, root.ytype) for root in layout.roots}


def test_the_page_documents_no_kind_the_code_lacks() -> None:
    assert set(sections()) == {str(name) for name in EXAMPLE.values()}


def test_the_page_documents_the_session_spec_in_meta() -> None:
    section = sections()["session/<sid>"].split("### The session's spec in `meta`", 1)[1]
    documented = set(re.findall(r"^- `(\w+)`:", section, flags=re.MULTILINE))
    stored = set(SessionSpec.model_fields) - {"prompt"}  # the prompt goes to `prompts`
    assert documented == stored
    assert stored <= set(SessionMeta.model_fields)
    for tool in TOOLS:
        assert f"`{tool}` ({TOOL_LABELS[tool]})" in section
    for mode in PERMISSION_MODES:
        assert f"`{mode}`" in section
