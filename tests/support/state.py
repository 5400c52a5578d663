"""Compare replicas by what they contain, not by how a state vector is encoded.

yrs writes state-vector entries in hash-map order, so two equal states can
encode to different bytes; decode before comparing.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc

from trace_sync.contract.sync_protocol import Reader


def state_vector(encoded: bytes) -> dict[int, int]:
    reader = Reader(encoded)
    return dict((reader.var_uint(), reader.var_uint()) for _ in range(reader.var_uint()))


def same_state(a: Doc[Any], b: Doc[Any]) -> bool:
    return state_vector(a.get_state()) == state_vector(b.get_state())
