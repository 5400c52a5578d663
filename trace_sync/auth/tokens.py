"""Token strings: ``trace_<token id>_<secret>``.

The id lets the server fetch one row and compare the secret's hash in
constant time (no lookup by secret). Secrets carry 256 random bits, so a
fast hash (SHA-256) is right: slow password hashes guard low-entropy input.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

PREFIX = "trace_"
_FORMAT = re.compile(r"trace_(?P<id>t_[a-z0-9]{1,40})_(?P<secret>[A-Za-z0-9_-]{20,100})")
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class ParsedToken:
    token_id: str
    secret: str


def new_secret() -> str:
    return secrets.token_urlsafe(32)


_CODE_ALPHABET = string.ascii_letters + string.digits


def new_code() -> str:
    """A one-time code people paste after a command (``trace workspace join
    CODE``): letters and digits only, since a leading ``-`` reads as an option."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(32))


def format_token(token_id: str, secret: str) -> str:
    return f"{PREFIX}{token_id}_{secret}"


def parse_token(token: str) -> ParsedToken | None:
    """Split a presented token, or ``None`` when it is not one of ours."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    match = _FORMAT.fullmatch(token)
    return ParsedToken(match["id"], match["secret"]) if match else None


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
