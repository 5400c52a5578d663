"""What a restore says of the tool's conversation, on a real worktree: rewound for a
tool that can go back to the checkpoint's point, kept for one that only resumes,
none for one that keeps no conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pycrdt import Doc

from tests.support.git import write
from trace_sync.bridge.git.checkpoints import create_checkpoint, list_checkpoints
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.bridge.sessions.io_writer import IoWriter
from trace_sync.bridge.sessions.log_segments import MemoryLogSegments
from trace_sync.bridge.sessions.transcript import TranscriptWindow
from trace_sync.bridge.sessions.worktree_requests import WorktreeRequests
from trace_sync.bridge.tools import registry
from trace_sync.bridge.tools.interface import ToolSessionStarted
from trace_sync.contract.errors import Conflict
from trace_sync.docs.entries import ToolPoint


@pytest.fixture
async def writer() -> AsyncIterator[IoWriter]:
    io: Doc[Any] = Doc()
    async with TranscriptWindow(io, MemoryLogSegments()) as window:
        yield IoWriter(io, window)


def requests(
    tree: Worktree, writer: IoWriter, tool: str, rewound: list[ToolPoint], in_turn: bool = False
) -> WorktreeRequests:
    async def rewind(point: ToolPoint) -> None:
        rewound.append(point)

    can = registry.adapter(tool).capabilities
    return WorktreeRequests(
        "s1", lambda: tree, writer, str, lambda: can, rewind=rewind, in_turn=lambda: in_turn
    )


async def two_turns(tree: Worktree, writer: IoWriter) -> int:
    """Checkpoint 1 after a turn that wrote apple, then the conversation went on to banana."""
    write(tree.path, {"apple.txt": "apple\n"})
    first = await create_checkpoint(tree, tool_session_id="c-1", tool_point="m-1")
    write(tree.path, {"banana.txt": "banana\n"})
    await create_checkpoint(tree, tool_session_id="c-1", tool_point="m-2")
    writer.runtime(tool_session_id="c-1")
    return first.n


@pytest.mark.parametrize(
    ("tool", "conversation", "why"),
    [
        (
            "claude_code",
            "rewound",
            "the tool's conversation goes back to checkpoint 1; its next turn continues from there",
        ),
        ("codex", "kept", "only files were restored: the tool still remembers what came after"),
        ("shell", "none", "the tool keeps no conversation between turns: only files were restored"),
    ],
)
async def test_the_answer_says_what_became_of_the_conversation(
    tree: Worktree, writer: IoWriter, tool: str, conversation: str, why: str
) -> None:
    rewound: list[ToolPoint] = []
    n = await two_turns(tree, writer)
    said = await requests(tree, writer, tool, rewound).answer("restore", {"n": n})
    assert (said["files"], said["conversation"]) == (True, conversation)
    assert said["why"].startswith(why)
    assert not (tree.path / "banana.txt").exists()
    expected = [ToolPoint(tool_session_id="c-1", tool_point="m-1")]
    assert rewound == (expected if conversation == "rewound" else [])


async def test_undoing_a_rewind_brings_the_later_conversation_back(
    tree: Worktree, writer: IoWriter
) -> None:
    rewound: list[ToolPoint] = []
    claude = requests(tree, writer, "claude_code", rewound)
    said = await claude.answer("restore", {"n": await two_turns(tree, writer)})
    [before] = [c for c in await list_checkpoints(tree.checkout, "s1") if c.n == said["saved"]]
    assert (before.tool_session_id, before.tool_point) == ("c-1", "m-2")
    writer.runtime(rewind=rewound[-1])  # what the session host records
    again = await claude.answer("restore", {"n": before.n})
    assert again["conversation"] == "rewound" and rewound[-1].tool_point == "m-2"
    assert (tree.path / "banana.txt").exists()


async def test_a_checkpoint_without_a_point_keeps_the_conversation(
    tree: Worktree, writer: IoWriter
) -> None:
    rewound: list[ToolPoint] = []
    write(tree.path, {"apple.txt": "apple\n"})
    n = (await create_checkpoint(tree, tool_session_id="c-1")).n  # taken by hand
    said = await requests(tree, writer, "claude_code", rewound).answer("restore", {"n": n})
    assert said["conversation"] == "kept" and rewound == []


async def test_a_rewind_waits_for_the_turn_under_way(tree: Worktree, writer: IoWriter) -> None:
    rewound: list[ToolPoint] = []
    n = await two_turns(tree, writer)
    busy = requests(tree, writer, "claude_code", rewound, in_turn=True)
    with pytest.raises(Conflict, match="a turn is running: interrupt it or let it end"):
        await busy.answer("restore", {"n": n})
    assert (tree.path / "banana.txt").exists() and rewound == []
    said = await requests(tree, writer, "codex", rewound, in_turn=True).answer("restore", {"n": n})
    assert said["conversation"] == "kept"  # files only, as before: nothing to end


async def test_the_tool_naming_its_new_session_takes_the_rewind_up(writer: IoWriter) -> None:
    writer.runtime(tool_session_id="c-1", rewind=ToolPoint(tool_session_id="c-1", tool_point="m"))
    writer.event(ToolSessionStarted("c-2", forked_from="c-1"))
    state = writer.state()
    assert (state.tool_session_id, state.rewind) == ("c-2", None)
