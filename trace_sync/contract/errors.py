"""Errors shared by every layer, grouped by what the caller does next.

    TraceError
    ├── NotFound        -- the thing does not exist (or is invisible to you)   HTTP 404, ws 4404
    ├── Unauthorized    -- no credentials, or bad/revoked ones                  HTTP 401, ws 4401
    ├── Forbidden       -- known principal, not allowed                         HTTP 403, ws 4403
    ├── InvalidInput    -- malformed or out-of-range input                      HTTP 422, ws 4400
    ├── TooLarge        -- input over a size limit                              HTTP 413, ws 4413
    ├── RateLimited     -- too many requests or open documents                  HTTP 429, ws 4429
    ├── Conflict        -- the state does not allow this now                    HTTP 409
    └── StoreError      -- persistence failed; nothing was acknowledged         HTTP 503, ws 1011

Packages raise these (translating third-party errors at their boundary with
``raise ... from exc``); :data:`HTTP_STATUS` and :data:`CLOSE_CODE` are the one
table that maps them to the wire. Clients read the wire back with
:data:`ERROR_BY_CODE`, :data:`ERROR_BY_STATUS` and :data:`ERROR_BY_CLOSE_CODE`,
derived from that table so a new error cannot be forgotten in one of them.
"""

from __future__ import annotations


class TraceError(Exception):
    code = "error"


class NotFound(TraceError):
    code = "not_found"


class Unauthorized(TraceError):
    code = "unauthorized"


class Forbidden(TraceError):
    code = "forbidden"


class InvalidInput(TraceError):
    code = "invalid"


class TooLarge(TraceError):
    code = "too_large"


class RateLimited(TraceError):
    code = "rate_limited"


class Conflict(TraceError):
    code = "conflict"


class StoreError(TraceError):
    code = "store_unavailable"


HTTP_STATUS: dict[type[TraceError], int] = {
    NotFound: 404,
    Unauthorized: 401,
    Forbidden: 403,
    InvalidInput: 422,
    TooLarge: 413,
    RateLimited: 429,
    Conflict: 409,
    StoreError: 503,
}

CLOSE_CODE: dict[type[TraceError], int] = {
    NotFound: 4404,
    Unauthorized: 4401,
    Forbidden: 4403,
    InvalidInput: 4400,
    TooLarge: 4413,
    RateLimited: 4429,
    Conflict: 4409,
    StoreError: 1011,
}

#: An error reply's ``code`` (``{"error": {"code": ...}}``) -> its class.
ERROR_BY_CODE: dict[str, type[TraceError]] = {cls.code: cls for cls in HTTP_STATUS}
#: An HTTP status -> its class; 400 is the framework's own answer to a request it
#: cannot parse (a body that is not JSON), which the caller fixes like any invalid input.
ERROR_BY_STATUS: dict[int, type[TraceError]] = {
    400: InvalidInput,
    **{status: cls for cls, status in HTTP_STATUS.items()},
}
#: A websocket close code -> its class.
ERROR_BY_CLOSE_CODE: dict[int, type[TraceError]] = {code: cls for cls, code in CLOSE_CODE.items()}


def lookup(table: dict[type[TraceError], int], error: TraceError, default: int) -> int:
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return default
