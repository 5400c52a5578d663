"""Reading and writing JSON bodies through pydantic models.

Every body passes the same checks before its model sees it: JSON (and, from
the browser's cookie, declared as ``application/json``, which no other site's
page can send without the browser asking first), at most :data:`MAX_DEPTH`
levels deep, and no NUL character in any text (PostgreSQL cannot store one,
and no name, title or prompt needs it).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse

from trace_sync.auth.bearer import by_cookie
from trace_sync.contract.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)
#: Deepest nesting of a body; the API's own models are a few levels deep.
MAX_DEPTH = 32
JSON = "application/json"


async def read_body(request: Request, model: type[M]) -> M:
    """Parse the request body as ``model``; a ``ValidationError`` maps to 422."""
    raw = await request.body()
    if raw and by_cookie(request) and _media_type(request) != JSON:
        raise InvalidInput(f"send the body as JSON with 'Content-Type: {JSON}'")
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"request body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidInput(f"request body nests deeper than {MAX_DEPTH} levels") from exc
    check_text(data)
    return model.model_validate(data)


def check_text(data: Any, where: str = "body") -> None:
    """Refuse a NUL character anywhere in ``data`` (keys too), naming the field,
    and nesting deeper than :data:`MAX_DEPTH`; walks without recursion."""
    pending: list[tuple[str, Any, int]] = [(where, data, 0)]
    while pending:
        path, value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise InvalidInput(f"request body nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput(f"{path}: text may not contain the NUL character (\\u0000)")
        if isinstance(value, dict):
            for key, item in value.items():
                pending.append((f"{path} key", key, depth + 1))
                pending.append((_field(path, where, key), item, depth + 1))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item, depth + 1) for i, item in enumerate(value))


def _field(path: str, root: str, key: str) -> str:
    return key if path == root else f"{path}.{key}"


def reply(model: BaseModel | list[BaseModel], status: int = 200) -> JSONResponse:
    """A model (or list of models) as a JSON response, for handlers that take the request."""
    if isinstance(model, list):
        return JSONResponse([m.model_dump(mode="json") for m in model], status_code=status)
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()
