"""Reading and writing JSON bodies through pydantic models."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse

from trace_sync.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M]) -> M:
    """Parse the request body as ``model``; a ``ValidationError`` maps to 422."""
    try:
        data = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"request body is not JSON: {exc}") from exc
    return model.model_validate(data)


def reply(model: BaseModel | list[BaseModel], status: int = 200) -> JSONResponse:
    """A model (or list of models) as a JSON response, for handlers that take the request."""
    if isinstance(model, list):
        return JSONResponse([m.model_dump(mode="json") for m in model], status_code=status)
    return JSONResponse(model.model_dump(mode="json"), status_code=status)
