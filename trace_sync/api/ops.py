"""Operations: health and metrics (the web app is mounted at ``/``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trace_sync import __version__


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def metrics(request: Request) -> Response:
    ctx = request.app.state.ctx
    return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


routes = [
    Route("/healthz", healthz),
    Route("/metrics", metrics),
]
