"""One error body for every failure: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trace_sync.contract.errors import HTTP_STATUS, TraceError, lookup

log = logging.getLogger(__name__)
UNAVAILABLE = "the server could not complete this now; nothing was changed, try again"


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def trace_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TraceError)  # registered for TraceError only
    status = lookup(HTTP_STATUS, exc, 500)
    if status >= 500:
        # The cause (a driver's message can hold SQL and its parameters) goes
        # to the log only; the caller learns what to do next.
        log.error("request failed", extra={"path": request.url.path}, exc_info=exc)
        return error_response(status, exc.code, UNAVAILABLE)
    return error_response(status, exc.code, str(exc))


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug, answered in the one error shape (Starlette re-raises it after, so
    the server logs it with its traceback)."""
    return error_response(500, "internal", "the server failed; the cause is in its log")


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return error_response(422, "invalid", problems)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, "http_error", exc.detail)


EXCEPTION_HANDLERS = {
    TraceError: trace_error,
    ValidationError: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail
