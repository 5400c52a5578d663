"""Authority changes: who may do what changed, so open connections are checked again.

Access to a document is decided when its socket opens; a socket stays open
for hours. So every service that changes what someone may do publishes an
:class:`AuthorityChanged` right after the change is stored:

    await self._authority.publish(AuthorityChanged(Reason.ROLE, user_id=user_id))

and the ``/sync`` and ``/bridge`` endpoints, subscribed, re-authorize the
open connections it may affect: they close them (4401, 4403) or downgrade
them to read-only. :meth:`Authority.publish` returns once every local
subscriber has done so, so a service call that returns has taken effect.

:class:`Authority` is the interface; :class:`LocalAuthority` delivers
within one process, :class:`trace_sync.cluster.authority.RedisAuthority`
to every process of a cluster (Redis pub/sub).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Protocol


class Reason(StrEnum):
    ROLE = "role"
    MEMBERSHIP = "membership"
    TOKEN = "token"
    SESSION_ACCESS = "session_access"
    PLACEMENT = "placement"
    #: A bridge grant ended (revoked, expired): its holder's terminals are checked again.
    GRANT = "grant"
    #: Changes may have been missed (another process's could not reach this one):
    #: sent with no ids, so every cache forgets and every connection is checked again.
    MISSED = "missed"


@dataclass(frozen=True)
class AuthorityChanged:
    """What changed; the ids say whose connections it may affect (none: anyone's)."""

    reason: Reason
    user_id: str | None = None
    token_id: str | None = None
    session_id: str | None = None

    def may_affect(self, user_id: str, token_id: str, session_id: str | None) -> bool:
        """Whether a connection of this user and token, on a document of this
        session (None for other documents), must be checked again."""
        if self.user_id is None and self.token_id is None and self.session_id is None:
            return True
        return (
            (self.user_id is not None and self.user_id == user_id)
            or (self.token_id is not None and self.token_id == token_id)
            or (self.session_id is not None and self.session_id == session_id)
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> AuthorityChanged:
        fields = json.loads(text)
        return cls(Reason(fields.pop("reason")), **fields)


Listener = Callable[[AuthorityChanged], Awaitable[None]]


class Authority(Protocol):
    #: Whether every change, made by any process, reaches this one's listeners
    #: now. While it is False, caches of authority must not answer from memory.
    listening: bool

    async def publish(self, change: AuthorityChanged) -> None:
        """Tell every subscriber, in the order they subscribed; return once the
        local ones have acted on it."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns the function that unsubscribes."""
        ...


class LocalAuthority:
    """Delivers changes to the listeners of this process."""

    listening = True

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    async def publish(self, change: AuthorityChanged) -> None:
        # In the order they subscribed: caches of authority (auth.facts) forget
        # before the endpoints that consult them re-check their sockets.
        for listener in list(self._listeners):
            await listener(change)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)
