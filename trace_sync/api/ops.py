"""Operations: health and metrics (the web app is mounted at ``/``)."""

from __future__ import annotations

from starlette.responses import Response

from trace_sync import __version__
from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.models import Model


class HealthOut(Model):
    status: str
    version: str


async def healthz(call: Call) -> HealthOut:
    return HealthOut(status="ok", version=__version__)


async def metrics(call: Call) -> Response:
    text = call.ctx.metrics.render()
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


#: The balancer's check; the one route every role serves (it needs no services).
health = Endpoint(
    "GET", "/healthz", healthz, "Liveness", response=HealthOut, public=True, tag="ops"
)

endpoints = [
    health,
    Endpoint(
        "GET",
        "/metrics",
        metrics,
        "Prometheus metrics",
        public=True,
        media_type="text/plain",
        tag="ops",
    ),
]
