"""Reading JSON request bodies through pydantic models (replies: :mod:`endpoints`)."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from trace_sync.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M]) -> M:
    """Parse the request body as ``model``; a ``ValidationError`` maps to 422."""
    try:
        data = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"request body is not JSON: {exc}") from exc
    return model.model_validate(data)
