"""The y-protocols codec: round trips, and nothing but SyncProtocolError on junk."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trace_sync.contract import sync_protocol as p


@given(st.binary(max_size=200))
def test_random_bytes_never_crash_the_decoder(frame: bytes) -> None:
    with contextlib.suppress(p.SyncProtocolError):
        p.decode(frame)


@given(st.integers(min_value=0, max_value=2**53))
def test_var_uints_round_trip(value: int) -> None:
    assert p.Reader(p.var_uint(value)).var_uint() == value


def test_messages_round_trip() -> None:
    assert p.decode(p.sync_step1(b"\x01\x02")) == p.SyncStep1(b"\x01\x02")
    assert p.decode(p.sync_step2(b"\x00\x00")) == p.SyncStep2(b"\x00\x00")
    assert p.decode(p.update_message(b"abc")) == p.Update(b"abc")
    assert p.decode(b"\x03") == p.QueryAwareness()
    assert p.decode(p.auth_granted(write=False)) == p.AuthGranted(p.SCOPE_READ)
    assert p.decode(p.auth_granted(write=True)) == p.AuthGranted(p.SCOPE_WRITE)


def test_non_ascii_presence_survives_exactly() -> None:
    entry = p.AwarenessEntry(7, 3, '{"name": "Zoë 👩‍💻 李"}')
    assert p.decode(p.awareness_message([entry])) == p.Awareness((entry,))


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (b"", "truncated"),
        (b"\x00\x00\x05ab", "declared 5 bytes"),
        (b"\x00" + b"\xff" * 9, "too long"),
        (b"\x07\x00", "unknown message type"),
        (b"\x02\x00\x00", "unknown auth message 0"),  # y-protocols' "denied": Trace closes
        (b"\x02\x01\x03all", "unknown auth message 1 'all'"),
        (b"\x01\x03\x01\x01\x01", "truncated"),
        (p.awareness_message([p.AwarenessEntry(1, 1, "{oops")]), "not JSON"),
    ],
)
def test_junk_is_named(frame: bytes, problem: str) -> None:
    with pytest.raises(p.SyncProtocolError, match=problem):
        p.decode(frame)
