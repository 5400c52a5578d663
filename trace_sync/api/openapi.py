"""``/api/openapi.json``, generated from the endpoints' own pydantic models.

Every route is described: path and query parameters, request body,
response body (or media type), the shared error body, the bearer token
and, on commands, the ``Idempotency-Key`` header.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.responses import JSONResponse, Response

from trace_sync import __version__
from trace_sync.api.endpoints import COMMANDS, Call, Endpoint
from trace_sync.api.errors import ErrorBody
from trace_sync.api.idempotency import HEADER

_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_REF = "#/components/schemas/{model}"


def spec(endpoints: list[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``endpoints``."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for e in endpoints:
        wanted += [(m, "validation") for m in (e.body, e.query) if m is not None]
        if e.response is not None:
            wanted.append((e.response, "serialization"))
    refs, defs = models_json_schema(wanted, ref_template=_REF)
    schemas: dict[str, Any] = defs.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        path = _PATH_PARAM.sub(r"{\1}", e.path)
        paths.setdefault(path, {})[e.method.lower()] = _operation(e, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Trace", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation(e: Endpoint, refs: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": e.handler.__name__,
        "summary": e.summary,
        "tags": [e.tag],
        "parameters": _parameters(e, refs, schemas),
        "responses": _responses(e, refs),
    }
    if e.body is not None:
        schema = refs[(e.body, "validation")]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    if e.public:
        operation["security"] = []
    return operation


def _parameters(e: Endpoint, refs: Any, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(e.path)
    ]
    if e.query is not None:
        model = _resolve(refs[(e.query, "validation")], schemas)
        required = set(model.get("required", []))
        for name, schema in model.get("properties", {}).items():
            param = {"name": name, "in": "query", "required": name in required, "schema": schema}
            if schema.get("type") == "array":
                param |= {"style": "form", "explode": True}
            params.append(param)
    if e.method in COMMANDS and not e.public:
        params.append(
            {
                "name": HEADER,
                "in": "header",
                "required": False,
                "description": "run this command at most once; a retry gets the same reply",
                "schema": {"type": "string", "maxLength": 200},
            }
        )
    return params


def _responses(e: Endpoint, refs: Any) -> dict[str, Any]:
    if e.response is not None:
        schema = refs[(e.response, "serialization")]
        ok = {"description": e.summary, "content": {"application/json": {"schema": schema}}}
    elif e.media_type is not None:
        ok = {"description": e.summary, "content": {e.media_type: {}}}
    else:
        ok = {"description": "done; no content"}
    error = refs[(ErrorBody, "serialization")]
    return {
        str(e.status): ok,
        "default": {
            "description": 'an error: {"error": {"code", "message"}}',
            "content": {"application/json": {"schema": error}},
        },
    }


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = schemas[ref.rsplit("/", 1)[-1]]
    return resolved


def openapi_endpoint(endpoints: list[Endpoint]) -> Endpoint:
    """``GET /api/openapi.json`` describing ``endpoints`` and itself."""
    document: dict[str, Any] = {}

    async def openapi(call: Call) -> Response:
        if not document:  # built once, on first use
            document.update(spec([*endpoints, self_endpoint]))
        return JSONResponse(document)

    self_endpoint = Endpoint(
        "GET",
        "/api/openapi.json",
        openapi,
        "This description of the HTTP API (OpenAPI 3.1)",
        public=True,
        media_type="application/json",
    )
    return self_endpoint
