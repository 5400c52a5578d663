"""Users and tokens. The store keeps only hashes of token secrets: hashing and
comparing them is the job of :mod:`trace_sync.auth`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select

from trace_sync.contract.errors import Conflict, InvalidInput, NotFound
from trace_sync.store.database import Database, now, to_utc, utc
from trace_sync.store.ids import new_id
from trace_sync.store.records import TokenKind, TokenRecord, User
from trace_sync.store.schema import tokens, users

USER_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
MAX_LABEL = 200


class Accounts:
    """Users and their tokens; reach it as ``store.accounts``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_user(self, name: str, *, instance_admin: bool = False) -> User:
        """A new user; ``Conflict`` if the name is taken, ``InvalidInput`` if malformed."""
        if not USER_NAME.fullmatch(name):
            raise InvalidInput(f"user names are 1-64 of A-Z a-z 0-9 _ . @ -, got {name!r}")
        user = User(new_id("u"), name, now(), instance_admin)
        try:
            async with self._db.begin() as conn:
                await conn.execute(users.insert().values(vars(user)))
        except Conflict as exc:
            raise Conflict(f"a user named {name!r} already exists") from exc
        return user

    async def get_user(self, user_id: str) -> User:
        """The user with this id, or ``NotFound``."""
        return await self._one_user(users.c.id == user_id, f"no user {user_id}")

    async def find_user(self, name: str) -> User:
        """The user with this name, or ``NotFound``."""
        return await self._one_user(users.c.name == name, f"no user named {name!r}")

    async def list_users(self) -> list[User]:
        """Every user, oldest first."""
        query = select(users).order_by(users.c.created_at, users.c.id)
        async with self._db.begin() as conn:
            return [_user(row) for row in await conn.execute(query)]

    async def count_users(self) -> int:
        async with self._db.begin() as conn:
            return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())

    async def _one_user(self, where: ColumnElement[bool], missing: str) -> User:
        async with self._db.begin() as conn:
            row = (await conn.execute(select(users).where(where))).first()
        if row is None:
            raise NotFound(missing)
        return _user(row)

    async def add_token(
        self,
        user_id: str,
        secret_hash: bytes,
        *,
        label: str,
        kind: TokenKind = TokenKind.USER,
        runtime_id: str | None = None,
    ) -> TokenRecord:
        """Record a token by the hash of its secret (``NotFound`` for an unknown user)."""
        record = TokenRecord(
            new_id("t"), user_id, kind, label[:MAX_LABEL], runtime_id, now(), None, None
        )
        values = {**vars(record), "kind": kind.value, "secret_hash": secret_hash}
        try:
            async with self._db.begin() as conn:
                await conn.execute(tokens.insert().values(values))
        except NotFound as exc:
            raise NotFound(f"no user {user_id}") from exc
        return record

    async def token_by_hash(self, secret_hash: bytes) -> TokenRecord | None:
        """The token with this secret hash, revoked or not (the caller decides)."""
        return await self._one_token(tokens.c.secret_hash == secret_hash)

    async def credentials(self, token_id: str) -> tuple[TokenRecord, bytes] | None:
        """The token's record and its secret's hash, for a constant-time check."""
        async with self._db.begin() as conn:
            row = (await conn.execute(select(tokens).where(tokens.c.id == token_id))).first()
        return None if row is None else (_token(row), bytes(row.secret_hash))

    async def touch_token(self, token_id: str, when: datetime) -> None:
        """Record that the token was used at ``when`` (an aware datetime)."""
        query = tokens.update().where(tokens.c.id == token_id).values(last_used_at=to_utc(when))
        async with self._db.begin() as conn:
            changed = await conn.execute(query)
        if changed.rowcount == 0:
            raise NotFound(f"no token {token_id}")

    async def revoke_token(self, token_id: str) -> TokenRecord:
        """Revoke a token (``NotFound`` if unknown); revoking twice keeps the first time."""
        first_time = tokens.c.id == token_id, tokens.c.revoked_at.is_(None)
        async with self._db.begin() as conn:
            await conn.execute(tokens.update().where(*first_time).values(revoked_at=now()))
            row = (await conn.execute(select(tokens).where(tokens.c.id == token_id))).first()
        if row is None:
            raise NotFound(f"no token {token_id}")
        return _token(row)

    async def list_tokens(self, user_id: str | None = None) -> list[TokenRecord]:
        """Every token (of ``user_id`` when given), oldest first."""
        query = select(tokens).order_by(tokens.c.created_at, tokens.c.id)
        if user_id is not None:
            query = query.where(tokens.c.user_id == user_id)
        async with self._db.begin() as conn:
            return [_token(row) for row in await conn.execute(query)]

    async def _one_token(self, where: ColumnElement[bool]) -> TokenRecord | None:
        async with self._db.begin() as conn:
            row = (await conn.execute(select(tokens).where(where))).first()
        return None if row is None else _token(row)


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        name=row.name,
        created_at=utc(row.created_at),
        instance_admin=bool(row.instance_admin),
    )


def _token(row: Row[Any]) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        user_id=row.user_id,
        kind=TokenKind(row.kind),
        label=row.label,
        runtime_id=row.runtime_id,
        created_at=utc(row.created_at),
        last_used_at=utc(row.last_used_at),
        revoked_at=utc(row.revoked_at),
    )
