"""Operations: health, metrics, and the landing page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from trace_sync import __version__


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def metrics(request: Request) -> Response:
    ctx = request.app.state.ctx
    return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def landing(request: Request) -> Response:
    return HTMLResponse(
        "<!doctype html><title>Trace</title><h1>Trace</h1>"
        "<p>The server is running. Documents sync at <code>/sync/&lt;name&gt;</code>; "
        "the API lives under <code>/api</code>.</p>"
    )


routes = [
    Route("/healthz", healthz),
    Route("/metrics", metrics),
    Route("/", landing),
]
