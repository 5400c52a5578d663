"""Three server processes behind HAProxy, run with the config deploy/cluster
ships (round robin, no stickiness): clients spread over the processes
converge whatever happens to a process, to Redis or to the leader, and
PostgreSQL ends up holding everything any client saw."""

from __future__ import annotations

import asyncio
import random
import re
import signal
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Text, TransactionEvent

from tests.cluster.conftest import server_on
from tests.cluster.test_documents import make_session
from tests.cluster.test_leader_jobs import one_leader, stored_doc
from tests.conftest import StoreTarget, eventually
from tests.support.haproxy import HaProxy, find_haproxy, haproxy
from tests.support.js_client import JsClient
from tests.support.py_client import PyClient
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess
from tests.support.state import state_vector
from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.client.sync_client import SyncClient

FAST = Backoff(first=0.05, longest=0.5)
TOKEN = re.compile(r"<[^<>]*>")


@dataclass
class Cluster:
    target: StoreTarget
    members: list[ServerProcess]
    proxy: HaProxy
    room: str

    def sync_client(self, **options: Any) -> SyncClient:
        """A product client through HAProxy, reconnecting fast."""
        token = self.members[0].token  # tokens live in PostgreSQL: valid on every member
        return SyncClient(self.proxy.url, self.room, token, backoff=FAST, **options)

    def js_client(self) -> JsClient:
        return JsClient(
            self.proxy.url.replace("http://", "ws://"), self.room, self.members[0].token
        )

    async def stored(self) -> Doc:
        return await stored_doc(self.target, self.room)


@pytest.fixture
async def cluster(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> AsyncIterator[Cluster]:
    find_haproxy()  # or skip before starting anything
    members = [server_on(postgres, tmp_path / f"m{n}", redis_server.url) for n in (1, 2, 3)]
    servers += members
    await asyncio.to_thread(members[0].start)  # the first start makes the owner
    await asyncio.gather(*(asyncio.to_thread(m.start) for m in members[1:]))
    room = f"session/{await make_session(postgres)}/notes"
    with haproxy([m.port for m in members], tmp_path / "haproxy.log") as proxy:
        yield Cluster(postgres, members, proxy, room)


# -- clients typing -------------------------------------------------------------------


def text_of(doc: Doc) -> str:
    return str(doc.get("t", type=Text))


def type_token(text: Text, token: str, rng: random.Random) -> None:
    """Insert between two tokens, never inside one (a split token would be lost to the count)."""
    spots = [0] + [i + 1 for i, c in enumerate(str(text)) if c == ">"]
    text.insert(rng.choice(spots), token)


async def py_typist(client: SyncClient, name: str, stop: asyncio.Event, out: list[str]) -> None:
    """Types tokens at random places, online or not (offline edits travel on reconnect)."""
    rng = random.Random(name)
    text = client.doc.get("t", type=Text)
    while not stop.is_set():
        token = f"<{name}.{len(out)}>"
        type_token(text, token, rng)
        out.append(token)
        await asyncio.sleep(rng.uniform(0.005, 0.03))


async def js_typist(client: JsClient, name: str, stop: asyncio.Event, out: list[str]) -> None:
    rng = random.Random(name)
    while not stop.is_set():
        token = f"<{name}.{len(out)}>"
        await client.insert(0, token)
        out.append(token)
        await asyncio.sleep(rng.uniform(0.01, 0.04))


@asynccontextmanager
async def typing(py: list[SyncClient], js: list[JsClient]) -> AsyncIterator[list[list[str]]]:
    """Every client types until the block ends; yields the tokens each typed."""
    stop = asyncio.Event()
    typed: list[list[str]] = [[] for _ in py + js]
    tasks = [py_typist(c, f"p{i}", stop, typed[i]) for i, c in enumerate(py)]
    tasks += [js_typist(c, f"j{i}", stop, typed[len(py) + i]) for i, c in enumerate(js)]
    running = [asyncio.create_task(t) for t in tasks]
    try:
        yield typed
    finally:
        stop.set()
        await asyncio.gather(*running)


@asynccontextmanager
async def clients(
    cluster: Cluster, py: int, js: int, **options: Any
) -> AsyncIterator[tuple[list[SyncClient], list[JsClient]]]:
    """``py`` product clients (with ``options``) and ``js`` Yjs clients through
    HAProxy, all synced, connected one after another (round robin spreads them)."""
    async with AsyncExitStack() as stack:
        py_clients = [
            await stack.enter_async_context(cluster.sync_client(**options)) for _ in range(py)
        ]
        for client in py_clients:
            await client.wait_synced()
        js_clients = [await stack.enter_async_context(cluster.js_client()) for _ in range(js)]
        for js_client in js_clients:
            await js_client.wait_for_event(lambda e: e["event"] == "synced")
        yield py_clients, js_clients


async def converged(py: list[SyncClient], js: list[JsClient], within: float = 20.0) -> Doc:
    """Wait until every client holds the same document; return a copy of it.

    Each client holds its own edits, so equal texts mean nobody lacks anything."""

    async def same() -> bool:
        texts = {text_of(c.doc) for c in py}
        vectors = [state_vector(c.doc.get_state()) for c in py]
        for client in js:
            report = await client.report()
            texts.add(report["text"])
            vectors.append(state_vector(report["stateVector"]))
        return len(texts) == 1 and all(v == vectors[0] for v in vectors)

    await eventually(same, within)
    copy: Doc = Doc()
    copy.apply_update(py[0].doc.get_update())
    return copy


def tokens(text: str) -> list[str]:
    assert TOKEN.sub("", text) == "", f"a token was split: {text!r}"
    return sorted(TOKEN.findall(text))


async def stored_when_committed(cluster: Cluster, doc: Doc, within: float = 15.0) -> Doc:
    """What PostgreSQL holds once it caught up with ``doc`` (commits are asynchronous)."""
    found: list[Doc] = []

    async def caught_up() -> bool:
        found[:] = [await cluster.stored()]
        return state_vector(found[0].get_state()) == state_vector(doc.get_state())

    await eventually(caught_up, within)
    return found[0]


# -- the processes ----------------------------------------------------------------------


def metric(member: ServerProcess, name: str) -> float:
    text = httpx.get(f"{member.url}/metrics", timeout=5).text
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, text
    return float(found.group(1))


async def connections(members: list[ServerProcess]) -> list[int]:
    found = [asyncio.to_thread(metric, m, "trace_sync_connections") for m in members]
    return [int(n) for n in await asyncio.gather(*found)]


async def restart(cluster: Cluster) -> None:
    """Stop every member (gracefully), then start one: HAProxy routes around the others."""
    for member in cluster.members:
        await asyncio.to_thread(member.stop)
    await asyncio.to_thread(cluster.members[0].start)


class Seen:
    """Every update a product client's document went through, its own and received."""

    def __init__(self, client: SyncClient) -> None:
        self.updates: list[bytes] = []
        client.doc.observe(self._record)

    def _record(self, event: TransactionEvent) -> None:
        self.updates.append(event.update)


def holds(final: Doc, updates: list[bytes]) -> bool:
    """Whether ``final`` already contains every one of ``updates``."""
    copy: Doc = Doc()
    copy.apply_update(final.get_update())
    for update in updates:
        copy.apply_update(update)
    return state_vector(copy.get_state()) == state_vector(final.get_state())


def covers(final: Doc, vector: dict[int, int]) -> bool:
    have = state_vector(final.get_state())
    return all(have.get(client, 0) >= clock for client, clock in vector.items())


# -- the tests --------------------------------------------------------------------------


async def test_random_edits_through_haproxy_converge_and_survive_a_restart(
    cluster: Cluster,
) -> None:
    async with clients(cluster, py=4, js=2) as (py, js):
        assert all(n >= 1 for n in await connections(cluster.members)), "not spread"
        async with typing(py, js) as typed:
            # A count, not a time: a loaded machine types slower (286 in 3 s once).
            await eventually(lambda: all(len(each) >= 50 for each in typed), within=60)
        final = await converged(py, js)
    text = text_of(final)
    assert tokens(text) == sorted(t for each in typed for t in each)

    await restart(cluster)
    assert text_of(await cluster.stored()) == text
    async with cluster.sync_client() as late:
        await late.wait_synced()
        assert text_of(late.doc) == text


async def test_a_client_joining_during_1000_updates_a_second_gets_everything(
    cluster: Cluster,
) -> None:
    url = f"{cluster.proxy.url.replace('http://', 'ws://')}/sync/{cluster.room}"
    async with PyClient(url, cluster.members[0].token) as writer, AsyncExitStack() as stack:
        await writer.synced.wait()
        joiners: list[SyncClient] = []
        js: list[JsClient] = []
        written, started = 0, time.monotonic()
        while written < 3000:  # one frame per update, 1000 a second
            due = min(3000, int((time.monotonic() - started) * 1000))
            for n in range(written, due):
                writer.edit(n, "abcdefghij"[n % 10])
            written = due
            if len(joiners) + len(js) < min(5, written // 500):  # one every 0.5 s
                if len(joiners) + len(js) == 2:
                    js.append(await stack.enter_async_context(cluster.js_client()))
                else:
                    joiners.append(await stack.enter_async_context(cluster.sync_client()))
            await asyncio.sleep(0.005)
        rate = written / (time.monotonic() - started)
        expected = str(writer.text)

        async def everyone_has_everything() -> bool:
            reports = [await j.report() for j in js]
            return all(r["text"] == expected for r in reports) and all(
                text_of(j.doc) == expected for j in joiners
            )

        await eventually(everyone_has_everything, within=20)
    assert (len(joiners), len(js), len(expected)) == (4, 1, 3000)
    assert rate > 800, rate
    assert text_of(await stored_when_committed(cluster, writer.doc)) == expected


async def test_redis_flushed_and_restarted_mid_edit_loses_nothing(
    cluster: Cluster, redis_server: RedisServer
) -> None:
    async with clients(cluster, py=3, js=1) as (py, js):
        async with typing(py, js) as typed:
            await asyncio.sleep(1)
            await asyncio.to_thread(redis_server.client().flushall)
            await asyncio.sleep(1)
            await asyncio.to_thread(redis_server.stop)  # comes back empty
            await asyncio.sleep(1.5)
            await asyncio.to_thread(redis_server.start)
            await asyncio.sleep(1)
        final = await converged(py, js, within=30)
    assert tokens(text_of(final)) == sorted(t for each in typed for t in each)
    assert text_of(await stored_when_committed(cluster, final)) == text_of(final)


async def test_a_process_killed_mid_write_loses_nothing_any_client_saw(cluster: Cluster) -> None:
    states: list[LinkState] = []
    async with clients(cluster, py=4, js=2, on_state=states.append) as (py, js):
        seen = [Seen(c) for c in py]
        on_killed = (await connections(cluster.members))[1]
        vectors: list[dict[int, int]] = []
        async with typing(py, js) as typed:
            await asyncio.sleep(1.5)
            vectors += [state_vector((await j.report())["stateVector"]) for j in js]
            await asyncio.to_thread(cluster.members[1].stop, signal.SIGKILL)
            await asyncio.sleep(2.5)
        vectors += [state_vector((await j.report())["stateVector"]) for j in js]
        final = await converged(py, js, within=30)
        cut_off = states.count(LinkState.OFFLINE) + sum(
            e["event"] == "status" and e["status"] == "disconnected" for j in js for e in j.events
        )
    assert on_killed >= 1
    assert cut_off >= on_killed  # its clients were cut off, and came back
    assert tokens(text_of(final)) == sorted(t for each in typed for t in each)
    stored = await stored_when_committed(cluster, final)
    assert all(holds(stored, s.updates) for s in seen)
    assert all(covers(stored, v) for v in vectors)


async def test_the_leader_killed_another_takes_over_and_haproxy_routes_around_it(
    cluster: Cluster,
) -> None:
    old = await one_leader(cluster.members)
    survivors = [m for m in cluster.members if m is not old]
    await asyncio.to_thread(old.stop, signal.SIGKILL)
    async with httpx.AsyncClient(base_url=cluster.proxy.url) as http:
        answers = [(await http.get("/healthz")).status_code for _ in range(30)]
    assert answers == [200] * 30  # a refused connection is retried on another member
    assert await one_leader(survivors, within=10) in survivors
