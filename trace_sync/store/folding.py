"""Folding a snapshot and a log of Yjs updates into one new snapshot.

The fold applies everything to a fresh ``pycrdt.Doc`` and encodes it with
``get_update()``: linear, where ``merge_updates`` is quadratic.

One catch: a Doc keeps an update whose dependencies it has not seen yet
*pending*, and ``get_update()`` leaves pending structs and deletions out. On
PostgreSQL another process may commit such a dependency after we read the
log, so a log update the snapshot does not contain must stay in the log.
:func:`fold` reports which ones those are, by reading each update's structs
(what ``get_update(update, state)`` keeps) and deletions against the folded
state vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pycrdt import Doc, get_update


@dataclass(frozen=True)
class Fold:
    snapshot: bytes
    #: Positions in the log of updates the snapshot does not contain.
    pending: list[int]


def fold(snapshot: bytes | None, log: list[bytes]) -> Fold:
    """Fold ``snapshot`` (if any) and ``log`` into one update.

    CPU-bound: run it in a worker thread for big logs (the Doc is created and
    dropped in the calling thread, as pycrdt requires).
    """
    doc: Doc[Any] = Doc()
    with doc.transaction():
        if snapshot is not None:
            doc.apply_update(snapshot)
        for update in log:
            doc.apply_update(update)
    state = doc.get_state()
    clocks = state_vector(state)
    pending = [i for i, update in enumerate(log) if not _contained(update, state, clocks)]
    return Fold(doc.get_update(), pending)


def state_vector(state: bytes) -> dict[int, int]:
    """Decode an encoded state vector: client id -> next clock."""
    count, pos = _var_uint(state, 0)
    clocks: dict[int, int] = {}
    for _ in range(count):
        client, pos = _var_uint(state, pos)
        clocks[client], pos = _var_uint(state, pos)
    return clocks


def _contained(update: bytes, state: bytes, clocks: dict[int, int]) -> bool:
    # The diff against the state keeps only structs the state lacks, and the
    # whole delete set; a deletion is applied iff the doc has its target.
    diff = get_update(update, state)
    struct_clients, pos = _var_uint(diff, 0)
    if struct_clients:
        return False
    return all(clocks.get(client, 0) >= end for client, end in _deletions(diff, pos))


def _deletions(data: bytes, pos: int) -> list[tuple[int, int]]:
    """(client, end clock) of every deleted range in an encoded delete set."""
    found: list[tuple[int, int]] = []
    clients, pos = _var_uint(data, pos)
    for _ in range(clients):
        client, pos = _var_uint(data, pos)
        ranges, pos = _var_uint(data, pos)
        for _ in range(ranges):
            clock, pos = _var_uint(data, pos)
            length, pos = _var_uint(data, pos)
            found.append((client, clock + length))
    return found


def _var_uint(data: bytes, pos: int) -> tuple[int, int]:
    # lib0 variable-length unsigned integer: 7 bits per byte, low bits first.
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
