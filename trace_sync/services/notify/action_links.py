"""Approve / Deny from a notification: short-lived, single-use, signed links.

A link carries who it was made for, the session, the request, the answer,
an expiry and a nonce, signed with the server's key (HMAC-SHA256). Using it
checks the signature and the expiry, records the nonce (a second use is
refused), then decides as that person through :class:`ApprovalService`, so
whether they may still answer is checked at use, not at sending.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from datetime import timedelta
from typing import Literal

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Forbidden, InvalidInput
from trace_sync.docs.entries import Decision
from trace_sync.services.approvals import ApprovalService
from trace_sync.services.server_secret import ServerSecret
from trace_sync.store import Store

#: How long a link works after it was sent.
TTL = timedelta(minutes=15)
Answer = Literal["allow", "deny"]
PATH = "/api/actions/"


class ActionLinks:
    def __init__(
        self,
        secret: ServerSecret,
        store: Store,
        approvals: ApprovalService,
        base_url: str,
        ttl: timedelta = TTL,
    ) -> None:
        self._secret = secret
        self._store = store
        self._approvals = approvals
        self._base_url = base_url.rstrip("/")
        self._ttl = ttl

    def make(self, user_id: str, session_id: str, request_id: str, answer: Answer) -> str:
        """The URL that answers ``request_id`` with ``answer`` as ``user_id`` (POST)."""
        expires = int(time.time() + self._ttl.total_seconds())
        fields = [user_id, session_id, request_id, answer, str(expires), secrets.token_urlsafe(12)]
        payload = "|".join(fields)
        token = _b64(payload.encode()) + "." + self._secret.sign(payload)
        return f"{self._base_url}{PATH}{token}"

    async def use(self, token: str) -> Decision:
        """Answer as the link says, once, if it is genuine, in time and still allowed."""
        payload = self._verified(token)
        user_id, session_id, request_id, answer, expires, nonce = payload.split("|")
        if time.time() > int(expires):
            raise Forbidden("this action link has expired; answer in the app")
        await self._store.destinations.use_once(nonce)
        user = await self._store.accounts.get_user(user_id)
        actor = Principal(user.id, user.name, token_id="action-link")
        behavior: Answer = "allow" if answer == "allow" else "deny"
        return await self._approvals.decide(actor, session_id, request_id, behavior)

    def _verified(self, token: str) -> str:
        encoded, _, signature = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput("not an action link of this server") from exc
        if not signature or not self._secret.verify(payload, signature):
            raise Forbidden("this action link is not genuine")
        if payload.count("|") != 5:
            raise InvalidInput("not an action link of this server")
        return payload


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
