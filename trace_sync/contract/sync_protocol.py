"""The y-protocols wire format, decoded strictly.

One websocket frame is one message: ``varUint type`` then its payload
(see ``../shared/reference/yjs-sync.md``). Anything malformed, truncated,
unknown or followed by trailing bytes raises :class:`SyncProtocolError`.
Strings use lib0's encoding: the length counts UTF-8 bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from trace_sync.contract.errors import InvalidInput

MESSAGE_SYNC, MESSAGE_AWARENESS, MESSAGE_AUTH, MESSAGE_QUERY_AWARENESS = 0, 1, 2, 3
SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE = 0, 1, 2
#: y-protocols/auth defines 0, permission denied (Trace closes the socket instead);
#: Trace adds 1, granted, with its scope, as Hocuspocus's "authenticated" does.
AUTH_GRANTED = 1
#: The scopes an access grant names.
SCOPE_READ, SCOPE_WRITE = "readonly", "read-write"
#: lib0 varUints are JavaScript numbers: nothing above 2**53 is meaningful.
MAX_VAR_UINT = 2**53
EMPTY_UPDATE = b"\x00\x00"
#: A state vector naming no client: a diff against it is the whole document.
EMPTY_STATE = b"\x00"


class SyncProtocolError(InvalidInput):
    """A frame that is not a well-formed y-protocols message."""


@dataclass(frozen=True)
class SyncStep1:
    state: bytes


@dataclass(frozen=True)
class SyncStep2:
    update: bytes


@dataclass(frozen=True)
class Update:
    update: bytes


@dataclass(frozen=True)
class AwarenessEntry:
    client_id: int
    clock: int
    #: The state as JSON text; ``"null"`` means the client left.
    state: str

    @property
    def removed(self) -> bool:
        return self.state == "null"


@dataclass(frozen=True)
class Awareness:
    entries: tuple[AwarenessEntry, ...]


@dataclass(frozen=True)
class QueryAwareness:
    pass


@dataclass(frozen=True)
class AuthGranted:
    """The server lets this token read (``scope`` readonly) or write (read-write)."""

    scope: str


Message = SyncStep1 | SyncStep2 | Update | Awareness | QueryAwareness | AuthGranted


class Reader:
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = bytes(data)  # payloads go to pycrdt, which takes only bytes
        self._pos = 0

    def var_uint(self) -> int:
        value, shift = 0, 0
        while True:
            if self._pos >= len(self._data):
                raise SyncProtocolError("truncated varint")
            byte = self._data[self._pos]
            self._pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 53:
                raise SyncProtocolError("varint too long")
        if value > MAX_VAR_UINT:
            raise SyncProtocolError("varint out of range")
        return value

    def var_bytes(self) -> bytes:
        length = self.var_uint()
        if self._pos + length > len(self._data):
            raise SyncProtocolError(
                f"declared {length} bytes, only {len(self._data) - self._pos} left"
            )
        chunk = self._data[self._pos : self._pos + length]
        self._pos += length
        return chunk

    def var_string(self) -> str:
        try:
            return self.var_bytes().decode()
        except UnicodeDecodeError as exc:
            raise SyncProtocolError("string is not UTF-8") from exc

    def end(self) -> None:
        if self._pos != len(self._data):
            raise SyncProtocolError(f"{len(self._data) - self._pos} trailing bytes")


def decode(frame: bytes | bytearray | memoryview) -> Message:
    """Decode one frame into a message, or raise :class:`SyncProtocolError`."""
    reader = Reader(frame)
    kind = reader.var_uint()
    message: Message
    if kind == MESSAGE_SYNC:
        message = _sync(reader)
    elif kind == MESSAGE_AWARENESS:
        message = Awareness(decode_awareness(reader.var_bytes()))
    elif kind == MESSAGE_QUERY_AWARENESS:
        message = QueryAwareness()
    elif kind == MESSAGE_AUTH:
        message = _auth(reader)
    else:
        raise SyncProtocolError(f"unknown message type {kind}")
    reader.end()
    return message


def _sync(reader: Reader) -> Message:
    sub = reader.var_uint()
    payload = reader.var_bytes()
    if sub == SYNC_STEP1:
        return SyncStep1(payload)
    if sub == SYNC_STEP2:
        return SyncStep2(payload)
    if sub == SYNC_UPDATE:
        return Update(payload)
    raise SyncProtocolError(f"unknown sync message type {sub}")


def _auth(reader: Reader) -> AuthGranted:
    sub = reader.var_uint()
    scope = reader.var_string()
    if sub != AUTH_GRANTED or scope not in (SCOPE_READ, SCOPE_WRITE):
        raise SyncProtocolError(f"unknown auth message {sub} {scope!r}")
    return AuthGranted(scope)


def decode_awareness(payload: bytes) -> tuple[AwarenessEntry, ...]:
    reader = Reader(payload)
    count = reader.var_uint()
    if count > len(payload):  # every entry takes at least one byte
        raise SyncProtocolError("awareness entry count exceeds the payload")
    entries = []
    for _ in range(count):
        client, clock, state = reader.var_uint(), reader.var_uint(), reader.var_string()
        _check_json(state)
        entries.append(AwarenessEntry(client, clock, state))
    reader.end()
    return tuple(entries)


def _check_json(text: str) -> None:
    try:
        json.loads(text)
    except ValueError as exc:
        raise SyncProtocolError("awareness state is not JSON") from exc


# -- encoding -----------------------------------------------------------------


def var_uint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def var_bytes(data: bytes) -> bytes:
    return var_uint(len(data)) + data


def sync_step1(state: bytes) -> bytes:
    return bytes([MESSAGE_SYNC, SYNC_STEP1]) + var_bytes(state)


def sync_step2(update: bytes) -> bytes:
    return bytes([MESSAGE_SYNC, SYNC_STEP2]) + var_bytes(update)


def update_message(update: bytes) -> bytes:
    return bytes([MESSAGE_SYNC, SYNC_UPDATE]) + var_bytes(update)


def auth_granted(write: bool) -> bytes:
    scope = SCOPE_WRITE if write else SCOPE_READ
    return bytes([MESSAGE_AUTH, AUTH_GRANTED]) + var_bytes(scope.encode())


def awareness_message(entries: list[AwarenessEntry]) -> bytes:
    payload = var_uint(len(entries)) + b"".join(
        var_uint(e.client_id) + var_uint(e.clock) + var_bytes(e.state.encode()) for e in entries
    )
    return bytes([MESSAGE_AWARENESS]) + var_bytes(payload)


#: A zero-entry awareness message: harmless traffic that keeps y-websocket's
#: 30-second silence timer from closing an idle connection.
KEEPALIVE = awareness_message([])


def close_reason(text: str) -> str:
    """A websocket close reason fits in 123 UTF-8 bytes."""
    return text.encode()[:120].decode(errors="ignore")
