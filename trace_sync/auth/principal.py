"""Who is acting, and what they may do with one document."""

from __future__ import annotations

from dataclasses import dataclass

from trace_sync.store.records import TokenKind


@dataclass(frozen=True)
class Principal:
    """The authenticated caller behind a token."""

    user_id: str
    user_name: str
    token_id: str
    kind: TokenKind = TokenKind.USER
    #: For runtime (bridge) tokens: the runtime whose assigned sessions it may write.
    runtime_id: str | None = None


@dataclass(frozen=True)
class Access:
    """The policy's answer for one (principal, document). Reading is implied."""

    write: bool
