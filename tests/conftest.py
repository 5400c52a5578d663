"""Shared fixtures: the real databases every store-backed test runs on, and
the real coding-tool CLIs with the scripted model server they talk to.

``store_target`` runs a test once on a fresh SQLite file and once in a fresh
PostgreSQL schema (dropped afterwards); ``store`` is a ``Store`` open on it.
Open more stores on the same target (``store_target.store()``) to restart or
to stand in for a second server process. ``tools_bin`` holds the pinned
``claude``, ``codex`` and ``claude-code-acp``; ``models`` is a scripted model server.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import secrets
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support.model_server import ModelServer, model_server
from tests.support.npm import coding_tools_bin
from tests.support.parts import missing
from tests.support.server_process import LOGS
from trace_sync.store import Store

POSTGRES_URL = os.environ.get(
    "TRACE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class StoreTarget:
    """Where a test's store lives: a fresh SQLite file, or a fresh PostgreSQL schema."""

    url: str
    schema: str | None = None

    def store(self, **options: Any) -> Store:
        """A new (not yet entered) ``Store`` on this database."""
        return Store(self.url, schema=self.schema, **options)


def _raw_postgres() -> str:
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


async def _postgres_reachable() -> bool:
    try:
        conn = await asyncpg.connect(_raw_postgres(), timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def _drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(_raw_postgres())
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_target(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreTarget]:
    if request.param == "sqlite":
        yield StoreTarget(f"sqlite+aiosqlite:///{tmp_path / 'trace.db'}")
        return
    if not await _postgres_reachable():
        missing(f"PostgreSQL not reachable at {POSTGRES_URL}: install/start postgresql")
    schema = f"test_{secrets.token_hex(6)}"
    try:
        yield StoreTarget(POSTGRES_URL, schema)
    finally:
        await _drop_schema(schema)


@pytest.fixture
async def store(store_target: StoreTarget) -> AsyncIterator[Store]:
    async with store_target.store() as opened:
        yield opened


@pytest.fixture(scope="session")
def tools_bin() -> Path:
    return coding_tools_bin()


@pytest.fixture
async def models() -> AsyncIterator[ModelServer]:
    async with model_server() as server:
        yield server


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    within: float = 10.0,
    state: Callable[[], str] | None = None,
) -> None:
    """Await ``condition()`` (sync or async) until it is true; fail after ``within`` s,
    saying ``state()`` (what the test saw instead) when given."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            seen = f"; instead: {state()}" if state is not None else ""
            raise AssertionError(f"condition not met within {within} s{seen}")
        await asyncio.sleep(0.01)


# -- tiers -------------------------------------------------------------------------
# ``make check`` runs the unit and service tiers: every test not marked below.
# ``process``: starts servers, bridges or coding tools as subprocesses (or a JS
# client under node); ``browser``: drives Chromium; ``container``: needs a
# container or sandbox runtime. Whole folders and files are marked here, single
# tests where they are (``@pytest.mark.process``); a test that takes the real
# coding tools (:data:`HEAVY_FIXTURES`) is a process test wherever it is, and one
# that drives Chromium (:data:`BROWSER_FIXTURES`, or its module imports
# ``async_playwright``) a browser one.

TIERS: dict[str, tuple[str, ...]] = {
    "tests/hosting/": ("process",),
    "tests/hosts/": ("process", "container"),
    "tests/adapters/": ("process",),
    # the CLI runs as people run it: a subprocess, mostly against a server process
    "tests/cli/": ("process",),
    # several server processes on PostgreSQL and a private redis-server
    "tests/cluster/": ("process",),
    "tests/client/test_imports.py": ("process",),
    "tests/bridges/test_restart.py": ("process",),
    "tests/sync/test_durability.py": ("process",),
    "tests/sync/test_js_clients.py": ("process",),
    "tests/api/test_live_index.py": ("process",),
    "tests/app/test_offline.py": ("process",),
}


#: Fixtures that start real coding tools (``hosting``: a bridge hosting shells in PTYs).
HEAVY_FIXTURES = {"tools_bin", "hosting"}
#: Fixtures that drive Chromium (``site``: a server process and a browser on it).
BROWSER_FIXTURES = {"site"}
#: A browser test that fails is run once more, as Playwright's own runner does in CI: a
#: page drawn by Flutter on a loaded 2-core machine now and then misses a step's wait.
#: Reruns are counted in the summary line and each first failure is printed in full
#: (``--rerun-show-tracebacks``), so a rare failure is seen, and still fails if it repeats.
BROWSER_RERUNS = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for prefix, marks in TIERS.items():
            if _within(item.nodeid, prefix):
                for mark in marks:
                    item.add_marker(mark)
        fixtures = set(getattr(item, "fixturenames", ()))
        if HEAVY_FIXTURES & fixtures:
            item.add_marker("process")
        drives_chromium = hasattr(getattr(item, "module", None), "async_playwright")
        if BROWSER_FIXTURES & fixtures or drives_chromium:
            item.add_marker("browser")
            item.add_marker("process")
            item.add_marker(pytest.mark.flaky(reruns=BROWSER_RERUNS))


def _within(nodeid: str, prefix: str) -> bool:
    """``nodeid`` is in the folder, file or test ``prefix`` (with its parameters)."""
    if not nodeid.startswith(prefix):
        return False
    return prefix.endswith("/") or nodeid[len(prefix) : len(prefix) + 1] in ("", ":", "[")


#: How much of each server log a failing test's report shows: a CI run keeps only
#: its output, and a browser test's timeout alone does not say what the server did.
LOG_TAIL_LINES = 40
_FIRST_LOG = pytest.StashKey[int]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_FIRST_LOG] = len(LOGS)
    if getattr(item, "execution_count", 1) > 1 and _TIMEOUT in item.stash:
        # pytest-timeout arms once around all of an item's runs: a rerun gets its own
        hook = item.config.hook
        hook.pytest_timeout_cancel_timer(item=item)
        hook.pytest_timeout_set_timer(item=item, settings=item.stash[_TIMEOUT])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        for path in LOGS[item.stash.get(_FIRST_LOG, len(LOGS)) :]:
            report.sections.append((f"{path.name}, last lines", _tail(path)))
    if report.failed and _AWAITING in item.stash and hasattr(report.longrepr, "addsection"):
        # in the failure itself, which a rerun's summary prints too (not its sections)
        report.longrepr.addsection("what the test awaited as it ran out", item.stash[_AWAITING])
    return report


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(unreadable: {exc})"
    told = [line[:300] for line in lines if not _ANSWERED.search(line)]
    return "\n".join(told[-LOG_TAIL_LINES:])


#: Requests answered well say least about a failure: left out of the tail.
_ANSWERED = re.compile(r'"uvicorn\.access".* [23]\d\d"')


# -- a timeout says where the test was waiting ----------------------------------------
# pytest-timeout prints the threads' stacks, and an async test's thread is in the event
# loop's select(): it does not say which step the test awaited. Just before the timeout,
# the stacks of the test's own coroutines are kept for the report.

_AWAITING = pytest.StashKey[str]()
_WATCH = pytest.StashKey[threading.Timer]()
_TIMEOUT = pytest.StashKey[Any]()
TESTS = Path(__file__).parent


@pytest.hookimpl(wrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Any:
    item.stash[_TIMEOUT] = settings
    if _AWAITING in item.stash:
        del item.stash[_AWAITING]  # a rerun keeps its own
    if settings.timeout and settings.timeout > 5:
        watch = threading.Timer(settings.timeout - 2, _keep_awaited, (item,))
        watch.daemon = True
        watch.start()
        item.stash[_WATCH] = watch
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> Any:
    if _WATCH in item.stash:
        item.stash[_WATCH].cancel()
    return (yield)


def _keep_awaited(item: pytest.Item) -> None:
    """The await chains of the pending tasks that run the tests' code (read from
    another thread: a snapshot for a report, not something the loop relies on)."""
    told = []
    tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
    for task in tasks:
        frames = _awaited(task.get_coro())
        if any(Path(f.f_code.co_filename).is_relative_to(TESTS) for f in frames):
            stack = traceback.StackSummary.extract((f, f.f_lineno) for f in frames)
            told.append(f"{task!r}\n{''.join(stack.format())}")
    item.stash[_AWAITING] = "\n".join(told) or f"no test coroutine among {len(tasks)} tasks"


def _awaited(coro: Any) -> list[Any]:
    """The frames from ``coro`` down to what it waits on (a task's own stack stops at
    its first frame)."""
    frames = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return frames
