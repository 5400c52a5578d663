"""The server's own secret: it seals what must be used again (notification
destination URLs, which carry tokens) and signs short-lived action links.

Tokens are stored hashed because the server only ever compares them; a
destination URL must be used again to deliver, so it is encrypted instead
(Fernet: AES-128-CBC with an HMAC-SHA256, from ``cryptography``). The key
comes from ``TRACE_SECRET_KEY`` or ``<data dir>/server-key`` (0600, made on
first start); separate keys for sealing and signing are derived from it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from trace_sync.contract.errors import InvalidInput
from trace_sync.contract.local_files import write_private

KEY_FILE = "server-key"


class ServerSecret:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise InvalidInput("the server's secret key must be at least 32 bytes")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(key, b"seal")))
        self._signing = _derive(key, b"sign")

    @classmethod
    def load(cls, data_dir: Path, configured: str | None = None) -> ServerSecret:
        """The configured key, else the data dir's (made now if missing)."""
        if configured:
            return cls(configured.encode())
        path = data_dir / KEY_FILE
        if not path.exists():
            write_private(path, secrets.token_urlsafe(48) + "\n")
        return cls(path.read_text().strip().encode())

    def seal(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as exc:
            raise InvalidInput(
                "sealed with another server key (TRACE_SECRET_KEY changed?)"
            ) from exc

    def sign(self, message: str) -> str:
        digest = hmac.new(self._signing, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, b"trace:" + purpose, hashlib.sha256).digest()
