"""``Idempotency-Key`` on every command, implemented once (wrapping the handler).

The first request with a key claims it and runs; its successful reply is
stored (per user, for :data:`trace_sync.store.idempotency.KEEP_FOR`) and a
retry with the same key and the same request gets that reply again, marked
``Idempotency-Replayed: true``, without running the command twice. The same
key with a different request is refused (422); a retry that arrives while
the first is still running gets 409, unless that claim was abandoned by a
server that died mid-command (then the retry runs). A command that fails
changes nothing, so its key is released and may be retried.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from trace_sync.api.credentials import person_of
from trace_sync.contract.errors import Conflict, InvalidInput
from trace_sync.store.records import StoredReply

HEADER = "Idempotency-Key"
REPLAYED = "Idempotency-Replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,200}")

RequestHandler = Callable[[Request], Awaitable[Response]]


def idempotent(handler: RequestHandler) -> RequestHandler:
    async def run(request: Request) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request)
        if not _KEY.fullmatch(key):
            raise InvalidInput(f"{HEADER} must be 1-200 printable ASCII characters")
        user_id = (await person_of(request)).user_id
        keys = request.app.state.ctx.store.idempotency
        fingerprint = await _fingerprint(request)
        stored = await keys.claim(user_id, key, fingerprint)
        if stored is not None:
            return _replay(stored, fingerprint)
        try:
            response = await handler(request)
        except BaseException:
            await keys.release(user_id, key)
            raise
        if 200 <= response.status_code < 300:
            await keys.complete(user_id, key, response.status_code, bytes(response.body))
        else:
            await keys.release(user_id, key)
        return response

    return run


async def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\0")
    digest.update(await request.body())
    return digest.hexdigest()


def _replay(stored: StoredReply, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise InvalidInput(f"this {HEADER} was already used for a different request; use a new key")
    if stored.status is None:
        raise Conflict(f"a request with this {HEADER} is still in progress; retry later")
    media = "application/json" if stored.body else None
    return Response(
        stored.body, status_code=stored.status, media_type=media, headers={REPLAYED: "true"}
    )
