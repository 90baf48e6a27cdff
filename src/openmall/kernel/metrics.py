"""Prometheus metrics: requests by route and status, latency, rate-limited calls, limiter failures.

``/metrics`` serves them in Prometheus's text format. With several worker processes
(``openmall serve --workers N`` sets ``PROMETHEUS_MULTIPROC_DIR``) every process writes its samples
to that folder and ``/metrics`` adds them up, whichever process answers.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("openmall_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "openmall_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)  # fmt: skip
RATE_LIMITED = Counter("openmall_ratelimited_calls_total", "Calls refused by a call bucket", ["surface"])
LIMITER_FAILURES = Counter(
    "openmall_ratelimit_backend_failures_total", "Calls the rate limiter could not check (Redis unreachable)"
)
UNMATCHED = "(unmatched)"  # no route: an unknown path, or a response from the shared cache
CACHED = "(cache)"
GATE = "(shop gate)"  # refused by the Shop API's client id and call bucket check, before any route
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """Counts every response by its route template (never the raw path: bounded label values)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        cached = False

        async def watch(message: Message) -> None:
            nonlocal status, cached
            if message["type"] == "http.response.start":
                status = message["status"]
                cached = any(name == b"x-cache" and value == b"HIT" for name, value in message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or (
                CACHED if cached else GATE if scope.get("openmall.gate_refused") else UNMATCHED
            )
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            REQUESTS.labels(method, label, str(status)).inc()
            LATENCY.labels(method, label).observe(time.perf_counter() - started)


def metrics_response(_request: Request) -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
