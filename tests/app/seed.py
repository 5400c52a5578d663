"""Seeded workspaces for the app's tests, made the real way.

Sessions are started by the real services on the real store; what a runtime
would write into ``session/<sid>/io`` is written by a **scripted runtime**: a
:class:`~trace_sync.client.SyncClient` holding a runtime token (the session
assigned to its runtime), writing entries through ``trace_sync.docs.typed``
into the running server, exactly as a bridge would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pycrdt import Array, Doc, Map, Text

from tests.support.git import make_repo
from trace_app.client import TraceClient
from trace_sync.auth.principal import Principal
from trace_sync.bridge.fake_runtime import FakeRuntime
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.session_spec import SessionSpec
from trace_sync.contract.session_status import SessionStatus
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION_IO, SESSION_LOG
from trace_sync.services.accounts import AccountService
from trace_sync.services.bridges.runtime_index import RuntimeIndex
from trace_sync.services.bridges.runtimes import issue_runtime_token
from trace_sync.services.documents import Documents
from trace_sync.services.repos import RepoService
from trace_sync.services.sessions import SessionService
from trace_sync.store import Store

RUNTIME_NAME = "scripted runtime"
ORIGIN = "scripted-runtime"
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
#: The seeded transcript's assistant text that is still streaming.
STREAMED = "5"

DIFF = """--- a/app/models.py
+++ b/app/models.py
@@ -1,4 +1,5 @@
 class User:
-    name = ""
+    name: str = ""
+    email: str = ""
 
     def greet(self):
"""
NEW_FILE = "--- /dev/null\n+++ b/docs/email.md\n@@ -0,0 +1 @@\n+Users have an email now.\n"
TERMINAL = (
    "$ pytest -q\r\n"
    "\x1b[32m....\x1b[0m\x1b[31mF\x1b[0m\r\n"
    "\x1b[1;31mFAILED\x1b[0m tests/test_models.py::test_email - AssertionError\r\n"
    "\x1b[33m1 failed\x1b[0m, \x1b[32m4 passed\x1b[0m in 0.12s\r\n"
)
#: What a runtime's heartbeat reports about the session's processes and worktree.
HEALTH = {"cpu_percent": 12.5, "memory_bytes": 268_435_456, "disk_bytes": 1_610_612_736}
OLDER = (
    "$ git status\r\nOn branch trace/add-email\r\n"
    "\x1b[36molder output from a sealed segment\x1b[0m\r\n"
)


@dataclass
class Seeded:
    workspace_id: str
    owner: Principal
    #: title -> session id
    sessions: dict[str, str]
    #: The owner's runtime the scripted runtime stands in for, and its token.
    runtime_id: str
    runtime_token: str


async def seed(store: Store, documents: Documents, owner: Principal, root: Path) -> Seeded:
    """A repo and three sessions, one hosted by the scripted runtime (waiting for approval)."""
    [workspace] = await store.directory.list_workspaces(owner.user_id)
    repo_path = make_repo(root / "repo")
    _commit_change(repo_path)
    repo = await RepoService(store, documents, root / "data").add(
        owner, workspace.id, str(repo_path)
    )
    sessions = SessionService(store, documents)
    ids: dict[str, str] = {}
    for title, tool in (("Add email to users", "claude_code"), ("Fix flaky CI", "codex"),
                        ("Explore the parser", "shell")):  # fmt: skip
        spec = SessionSpec.of(repo_id=repo.id, tool=tool, title=title, prompt=f"{title}, please")
        row = await sessions.start(owner, workspace.id, spec)
        ids[title] = row.id
    hosted = ids["Add email to users"]
    runtime = await store.runtimes.register(owner.user_id, "scripted", RUNTIME_NAME, "desktop")
    await RuntimeIndex(store, documents).publish(runtime, online=False)
    await store.sessions.assign_runtime(hosted, runtime.id)
    await sessions.report_status(hosted, SessionStatus.WAITING_APPROVAL)
    await sessions.report_status(ids["Fix flaky CI"], SessionStatus.RUNNING)
    await sessions.report_status(ids["Explore the parser"], SessionStatus.IDLE)
    await sessions.command(owner, ids["Explore the parser"], _pause())
    token = await issue_runtime_token(store, AccountService(store), runtime)
    return Seeded(workspace.id, owner, ids, runtime.id, token)


def _pause() -> Any:
    from trace_sync.services.lifecycle import Command

    return Command.PAUSE


def _commit_change(path: Path) -> None:
    (path / "notes.txt").write_text("a change\n")


# -- the scripted runtime ---------------------------------------------------------


BRANCH = e.BranchStatus(
    branch="trace/add-email",
    base="main",
    ahead_base=3,
    behind_base=1,
    remote="origin",
    pushed=True,
    ahead_remote=1,
    behind_remote=0,
)


def write_io(doc: Doc[Any], sid: str, runtime_id: str) -> None:
    """Everything a runtime reports about a session that waits for approval."""
    put = lambda root, key, entry: typed.put(doc, SESSION_IO, root, key, entry, origin=ORIGIN)  # noqa: E731
    add = lambda root, entry: typed.append(doc, SESSION_IO, root, entry, origin=ORIGIN)  # noqa: E731
    with doc.transaction(origin=ORIGIN):
        typed.root_of(doc, SESSION_IO, "runtime").update(
            {"runtime_id": runtime_id, "status": "waiting_approval", "branch": "trace/add-email"}
            | HEALTH
            | {"heartbeat_at": datetime.now(UTC).isoformat()}
        )
        for entry in transcript():
            add("transcript", entry)
        put(
            "terminals",
            "t1",
            e.TerminalInfo(id="t1", title="tests", kind="tool", sealed_chars=len(OLDER)),
        )
        typed.root_of(doc, SESSION_IO, "output")["t1"] = Text(TERMINAL)
        add(
            "segments",
            e.SegmentRef(
                name="t1-0", kind="terminal", terminal_id="t1", first=0, count=len(OLDER), at=NOW
            ),
        )
        put(
            "files",
            "app/models.py",
            e.FileChange(path="app/models.py", status="modified", added=2, removed=1, diff=DIFF),
        )
        put(
            "files",
            "docs/email.md",
            e.FileChange(
                path="docs/email.md",
                status="added",
                added=1,
                diff=NEW_FILE,
            ),
        )
        put("approvals", "req-1", approval())
        typed.put_fields(doc, SESSION_IO, "branch", BRANCH, origin=ORIGIN)
        add(
            "checkpoints",
            e.Checkpoint(
                n=1,
                ref=f"refs/trace/checkpoints/{sid}/1",
                commit="a1b2c3d4e5f6a7b8",
                at=NOW,
                label="after first turn",
            ),
        )
        typed.root_of(doc, SESSION_IO, "usage").update(
            {"input_tokens": 1200, "output_tokens": 340, "cost_usd": 0.42}
        )


def write_segment(doc: Doc[Any]) -> None:
    with doc.transaction(origin=ORIGIN):
        typed.root_of(doc, SESSION_LOG, "entries").extend([OLDER])


def approval() -> e.ApprovalRequest:
    return e.ApprovalRequest(
        id="req-1",
        kind="permission",
        tool="Bash",
        title="Run the test suite",
        input={"command": "pytest -q tests/test_models.py"},
        detail=e.ApprovalDetail(
            command="pytest -q tests/test_models.py",
            description="Runs the tests the change touches",
        ),
        at=NOW,
    )


def transcript() -> list[e.TranscriptEntry]:
    return [
        e.UserPrompt(id="1", at=NOW, text="Add an email field to users"),
        e.Thinking(
            id="2", at=NOW, text="The model lives in app/models.py; add the field and a test."
        ),
        e.ToolCall(
            id="3",
            at=NOW,
            call_id="c1",
            name="Edit",
            input={"file_path": "app/models.py"},
            status="done",
        ),
        e.ToolResult(id="4", at=NOW, call_id="c1", output="edited app/models.py"),
        e.AssistantText(
            id=STREAMED,
            at=NOW,
            text="I added **email** to `User`. Running the tests now",
            streaming=True,
        ),
        e.RawEvent(
            id="6", at=NOW, source="claude_code", data={"type": "system", "subtype": "hook"}
        ),
        e.TranscriptEntry.model_validate(
            {"id": "7", "kind": "sparkle", "at": NOW.isoformat(), "x": 1}
        ),
    ]


class ScriptedRuntime(FakeRuntime):
    """The runtime side of one hosted session: ``async with ScriptedRuntime(url, sid, seeded)``
    writes the seeded io document (:func:`write_io`) and its log segment on entry."""

    def __init__(self, server_url: str, sid: str, seeded: Seeded) -> None:
        super().__init__(server_url, sid, seeded.runtime_id, seeded.runtime_token, origin=ORIGIN)
        self.sid = sid

    async def __aenter__(self) -> ScriptedRuntime:
        await super().__aenter__()
        segment = await self.segment("t1-0")
        write_io(self.io.doc, self.sid, self.runtime_id)
        write_segment(segment.doc)
        await self.flush()
        return self

    def answer_approval(self, status: str = "running") -> None:
        """What a runtime does once the decision reached the tool."""
        with self.io.doc.transaction(origin=ORIGIN):
            self.took("req-1")
            typed.root_of(self.io.doc, SESSION_IO, "runtime")["status"] = status

    def took(self, request_id: str) -> None:
        """The tool has the decision on ``request_id``: it is no longer pending."""
        del typed.root_of(self.io.doc, SESSION_IO, "approvals")[request_id]

    def ask(self, text: str, options: list[str], request_id: str = "req-2") -> None:
        """The tool asks a question (a pending request and its transcript entry)."""
        asked = e.ApprovalRequest(
            id=request_id, kind="question", tool="AskUserQuestion", title=text, options=options,
            at=NOW,
        )  # fmt: skip
        question = e.Question(id=f"q-{request_id}", at=NOW, request_id=request_id, text=text,
                              options=options)  # fmt: skip
        with self.io.doc.transaction(origin=ORIGIN):
            self.put("approvals", request_id, asked)
            self.append("transcript", question)

    def stream(self, more: str) -> None:
        """Streamed assistant text: the entry is replaced as text comes."""
        transcript: Array[Any] = self.io.doc.get("transcript", type=Array)
        with self.io.doc.transaction(origin=ORIGIN):
            for i, value in enumerate(list(transcript)):
                if isinstance(value, dict) and value.get("id") == STREAMED:
                    transcript[i] = value | {"text": value["text"] + more}


def streamed(app: TraceClient, sid: str) -> str:
    """The streamed assistant text (:meth:`ScriptedRuntime.stream`) as ``app`` reads it."""
    return {i.id: i.text for i in app.session(sid).items}.get(STREAMED, "")


@asynccontextmanager
async def hosted_without_terminal(
    server_url: str, store: Store, seeded: Seeded, sid: str
) -> AsyncIterator[SyncClient]:
    """``sid`` hosted by the owner's runtime the way a Claude Code or Codex session is:
    a transcript and no terminal. Yields the runtime's link to ``session/<sid>/io``."""
    await store.sessions.assign_runtime(sid, seeded.runtime_id)
    async with SyncClient(server_url, f"session/{sid}/io", seeded.runtime_token) as io:
        await io.wait_synced()
        with io.doc.transaction(origin=ORIGIN):
            runtime = {"runtime_id": seeded.runtime_id, "status": "running"}
            typed.root_of(io.doc, SESSION_IO, "runtime").update(runtime)
            said = e.AssistantText(id="1", at=NOW, text="Looking at the flaky test.")
            typed.append(io.doc, SESSION_IO, "transcript", said, origin=ORIGIN)
        await io.flush()
        yield io


@dataclass
class SeededDir:
    seeded: Seeded
    #: A second person (a member) and their token.
    other_token: str


async def seed_data_dir(data_dir: Path, root: Path) -> SeededDir:
    """Seed a server's data dir before it starts (as its first start would, plus sessions)."""
    from trace_sync.metrics import Metrics
    from trace_sync.services.local_mode import ensure_local_owner
    from trace_sync.services.workspaces import WorkspaceService
    from trace_sync.settings import sqlite_url
    from trace_sync.store.records import Role
    from trace_sync.sync.rooms import Rooms

    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    async with Store(sqlite_url(data_dir / "trace.db")) as store:
        local = await ensure_local_owner(store, data_dir)
        user = await store.accounts.get_user(local.user_id)
        owner = Principal(user.id, user.name, "t_seed")
        async with Rooms(store.updates, Metrics(), grace_s=0) as rooms:
            accounts = AccountService(store)
            [workspace] = await store.directory.list_workspaces(owner.user_id)
            await WorkspaceService(store, rooms, accounts).project(workspace.id)
            seeded = await seed(store, rooms, owner, root)
            bob = await store.accounts.create_user("bob")
            await store.directory.set_member(workspace.id, bob.id, Role.MEMBER)
            await WorkspaceService(store, rooms, accounts).project(workspace.id)
            other = (await accounts.issue_token(bob.id, label="bob")).token
    return SeededDir(seeded, other)


async def decided(
    server_url: str, sid: str, token: str, request_id: str = "req-1"
) -> dict[str, Any]:
    """A person's decision on ``request_id``, once it is in ``session/<sid>``."""
    from tests.conftest import eventually

    async with SyncClient(server_url, f"session/{sid}", token, read_only=True) as session:
        await session.wait_synced()
        decisions = session.doc.get("decisions", type=Map)
        await eventually(lambda: request_id in decisions, within=30)
        return dict(decisions[request_id])


async def prompted(server_url: str, sid: str, token: str, text: str) -> None:
    """Wait until a prompt reading ``text`` is in ``session/<sid>``."""
    from tests.conftest import eventually

    async with SyncClient(server_url, f"session/{sid}", token, read_only=True) as session:
        await session.wait_synced()
        prompts = session.doc.get("prompts", type=Array)
        await eventually(lambda: any(p.get("text") == text for p in prompts), within=30)


#: A line longer than any window (it must scroll, not wrap).
LONG_LINE = "ENDPOINTS = [" + ", ".join(f'"/api/v1/resource_{n}"' for n in range(14)) + "]"


def long_change() -> e.FileChange:
    """A change with a line longer than any window and 20 unchanged lines between two edits."""
    unchanged = "".join(f" value_{n} = {n}\n" for n in range(20))
    diff = (
        "--- a/app/settings.py\n+++ b/app/settings.py\n@@ -1,22 +1,22 @@\n"
        f"-DEBUG = True\n+{LONG_LINE}\n{unchanged}-TIMEOUT = 10\n+TIMEOUT = 30\n"
    )
    return e.FileChange(path="app/settings.py", status="modified", added=2, removed=2, diff=diff)
