"""Short random ids with a prefix saying what they name: ``u_``, ``w_``, ``s_``, ``t_``."""

from __future__ import annotations

import re
import secrets

from trace_sync.contract.errors import InvalidInput

#: What any id the store accepts from outside must look like (URL- and path-safe).
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_id(prefix: str) -> str:
    """A fresh id such as ``new_id("s") == "s_k3j9x0q2m7ab4c1d"`` (about 82 random bits)."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a well-formed id, else raise ``InvalidInput``."""
    if not ID_PATTERN.fullmatch(value):
        raise InvalidInput(f"{what} must be 1-64 of A-Z a-z 0-9 _ -, got {value!r}")
    return value
