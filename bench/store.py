"""Store benchmark: group-commit throughput and cold load of a compacted 1M-update log.

    python bench/store.py [--updates N] [--big N] [--postgres-url URL]

For SQLite (a fresh temp dir) and PostgreSQL (a fresh schema, dropped after):

* sustained appends/s: 50 appenders over 20 documents, each submitting
  ~30-byte pycrdt text updates the way a sync room does (pipelined, at most
  256 in flight per appender), measured until every update is committed;
  printed next to a reference measured in the same run on the same database:
  plain ``executemany`` inserts of the same rows, 4096 per transaction, with no
  group-commit machinery;
* a document whose log held ``--big`` (1M) updates: time to compact it, then
  the cold-load time (a new engine, ``load`` and applying into a fresh Doc).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import asyncpg
from pycrdt import Doc, Text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trace_sync.metrics import Metrics  # noqa: E402
from trace_sync.store import Store  # noqa: E402
from trace_sync.store.schema import updates as updates_table  # noqa: E402

APPENDERS = 50
DOCUMENTS = 20
IN_FLIGHT = 256
CHUNK = 4096
PARAGRAPHS = 100
DEFAULT_PG = os.environ.get(
    "TRACE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def typing_updates(count: int) -> tuple[list[str], list[bytes]]:
    """Someone typing into 100 paragraphs (100 keys each, a backspace now and
    then): the final texts and one update per key stroke."""
    doc: Doc[Any] = Doc()
    found: list[bytes] = []
    doc.observe(lambda event: found.append(event.update))
    # One long Text makes pycrdt itself quadratic when typing; paragraphs keep it linear.
    paragraphs = [doc.get(f"p{k}", type=Text) for k in range(PARAGRAPHS)]
    for i in range(count):
        text = paragraphs[(i // 100) % PARAGRAPHS]
        if i % 50 == 49:
            del text[len(text) - 1]
        else:
            text += "abcdefghij"[i % 10]
    return texts(doc), found


def texts(doc: Doc[Any]) -> list[str]:
    return [str(doc.get(f"p{k}", type=Text)) for k in range(PARAGRAPHS)]


def _record(
    latencies: list[float], loop: asyncio.AbstractEventLoop, started: float, _: object
) -> None:
    latencies.append(loop.time() - started)


Stream = list[tuple[str, bytes]]


def document_streams(total: int) -> Stream:
    """``total`` updates of DOCUMENTS documents, each typed by its own writer,
    interleaved as they would arrive at a server."""
    per_doc = [typing_updates(total // DOCUMENTS)[1] for _ in range(DOCUMENTS)]
    return [(f"bench/{d}", u[i]) for i in range(total // DOCUMENTS) for d, u in enumerate(per_doc)]


async def appender(store: Store, items: Stream, latencies: list[float]) -> None:
    loop = asyncio.get_running_loop()
    in_flight: deque[asyncio.Future[None]] = deque()
    for n, (name, update) in enumerate(items):
        future = store.updates.submit(name, update)
        future.add_done_callback(functools.partial(_record, latencies, loop, loop.time()))
        in_flight.append(future)
        if len(in_flight) >= IN_FLIGHT:
            await in_flight.popleft()
        elif n % 16 == 0:
            await asyncio.sleep(0)  # let the other appenders in, as a server would
    await asyncio.gather(*in_flight)


async def group_commit(store: Store, metrics: Metrics, stream: Stream) -> float:
    latencies: list[float] = []
    shares = [stream[i::APPENDERS] for i in range(APPENDERS)]
    started = time.perf_counter()
    await asyncio.gather(*(appender(store, share, latencies) for share in shares))
    elapsed = time.perf_counter() - started
    commits = metrics.registry.get_sample_value("trace_store_commit_seconds_count") or 0
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"  group commit: {len(stream) / elapsed:>9,.0f} appends/s "
        f"({len(stream):,} updates, {APPENDERS} appenders, {DOCUMENTS} docs, "
        f"{commits:.0f} commits, {len(stream) / max(commits, 1):.0f}/commit, "
        f"latency p50 {quantiles[49] * 1000:.0f} ms p99 {quantiles[98] * 1000:.0f} ms "
        f"with {APPENDERS * IN_FLIGHT:,} in flight)"
    )
    return len(stream) / elapsed


async def doc_id(store: Store, name: str, first: bytes) -> int:
    await store.updates.append(name, first)
    found = await store.updates._find_document(name)  # the bench may peek
    if found is None:
        raise RuntimeError(f"{name} was not created")
    return found


async def raw_inserts(store: Store, doc: int, updates: list[bytes], *, plain: bool = True) -> float:
    """Rows/s inserting ``updates`` 4096 per transaction, no group commit: with
    plain ``executemany``, or with the writer's own statement."""
    started = time.perf_counter()
    for start in range(0, len(updates), CHUNK):
        chunk = updates[start : start + CHUNK]
        async with store.db.begin() as conn:
            if plain:
                rows = [{"doc_id": doc, "data": u} for u in chunk]
                await conn.execute(updates_table.insert(), rows)
            else:
                await store.updates._insert(conn, [doc] * len(chunk), chunk)
    return len(updates) / (time.perf_counter() - started)


async def throughput(url: str, schema: str | None, stream: Stream) -> None:
    updates = [update for _, update in stream]
    async with Store(url, schema=schema) as store:
        reference = await raw_inserts(store, await doc_id(store, "bench/raw", updates[0]), updates)
        doc = await doc_id(store, "bench/raw2", updates[0])
        best = await raw_inserts(store, doc, updates, plain=False)
    metrics = Metrics()
    async with Store(url, schema=schema, metrics=metrics) as store:
        rate = await group_commit(store, metrics, stream)
    print(f"  reference:    {reference:>9,.0f} rows/s (plain executemany, {CHUNK}/transaction)")
    if store.db.dialect == "postgresql":
        print(f"{'':16}{best:>9,.0f} rows/s (the writer's unnest insert, {CHUNK}/transaction)")
    print(f"  ratio:        {rate / reference:.2f} x the plain executemany reference")


async def big_document(url: str, schema: str | None, text: list[str], updates: list[bytes]) -> None:
    name = "bench/big"
    async with Store(url, schema=schema, compact_after_updates=10**12) as store:
        doc = await doc_id(store, name, updates[0])
        await raw_inserts(store, doc, updates[1:])  # setup: bulk is fine
        started = time.perf_counter()
        await store.updates.compact(name)
        compact_s = time.perf_counter() - started
    loads = [await cold_load(url, schema, name, text) for _ in range(2)]
    print(
        f"  {len(updates):,}-update log: compact {compact_s:.2f} s; cold load (new engine, "
        f"load + apply into a fresh Doc) {loads[0]} right after compaction, then {loads[1]}"
    )


async def cold_load(url: str, schema: str | None, name: str, text: list[str]) -> str:
    async with Store(url, schema=schema) as store:  # cold: a new engine, nothing cached
        started = time.perf_counter()
        stored = await store.updates.load(name)
        loaded_s = time.perf_counter() - started
        loaded: Doc[Any] = Doc()
        for update in stored:
            loaded.apply_update(update)
        total_s = time.perf_counter() - started
    if texts(loaded) != text:
        raise RuntimeError("the compacted document differs from the original")
    size = sum(map(len, stored))
    return f"{total_s * 1000:.0f} ms (load {loaded_s * 1000:.0f} ms, {len(stored)} row, {size:,} B)"


async def run(label: str, url: str, schema: str | None, args: argparse.Namespace) -> None:
    print(f"{label}:")
    await throughput(url, schema, args.stream)
    await big_document(url, schema, args.big_text, args.big_updates)


async def postgres_schema(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL not reachable at {url} ({exc}): skipped")
        return None
    await conn.close()
    return f"bench_{secrets.token_hex(6)}"


async def drop_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await run("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db", None, args)
    schema = await postgres_schema(args.postgres_url)
    if schema is not None:
        try:
            await run("PostgreSQL", args.postgres_url, schema, args)
        finally:
            await drop_schema(args.postgres_url, schema)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=200_000, help="appends to time")
    parser.add_argument("--big", type=int, default=1_000_000, help="log size to compact")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    args = parser.parse_args()
    started = time.perf_counter()
    args.big_text, args.big_updates = typing_updates(args.big)
    args.stream = document_streams(args.updates)
    average = sum(len(u) for _, u in args.stream) / len(args.stream)
    print(
        f"generated pycrdt text updates (mean {average:.1f} bytes) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
