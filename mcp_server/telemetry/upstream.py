"""One upstream request as operators see it: a duration sample, a client span, the backend's reachability.

`UpstreamExchange` wraps a logical request (a GET with its retries, a POST, a stream to its end):
`agent_bridge_upstream_request_duration_seconds` by backend, method, status and retries; when tracing
is on, a CLIENT span named after the HTTP method with OpenTelemetry's HTTP client attributes
(`http.request.method`, `server.address`, `server.port`, `url.full` without the query,
`http.response.status_code`, `http.request.resend_count`, `error.type`); and the last answer per
backend, which the connect page shows as "upstream reachable".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from opentelemetry.trace import Span, SpanKind, StatusCode
from yarl import URL

from mcp_server.errors import UpstreamConnectionError, UpstreamTimeoutError
from mcp_server.lazy_imports import aiohttp
from mcp_server.telemetry import tracing
from mcp_server.telemetry.metrics import UPSTREAM_DURATION


@dataclass(frozen=True, slots=True)
class LastAnswer:
    """The last upstream request of a backend: its HTTP status (None: no answer) and when it ended."""

    status: int | None
    error: str | None
    at: float

    @property
    def reachable(self) -> bool:
        return self.status is not None and self.status < 500


LAST_ANSWERS: Final[dict[str, LastAnswer]] = {}


def _error_kind(exc: BaseException) -> str:
    if not isinstance(exc, Exception):
        return "cancelled"
    if isinstance(exc, UpstreamTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, UpstreamConnectionError | aiohttp.ClientError):
        return "connection_error"
    return "error"


class UpstreamExchange:
    """`with UpstreamExchange(backend, "GET", base_url, path) as exchange:` ... `exchange.answered(status)`."""

    __slots__ = ("_span", "_started", "backend", "base_url", "method", "path", "retries", "status")

    def __init__(self, backend: str, method: str, base_url: str, path: str) -> None:
        self.backend = backend
        self.method = method
        self.base_url = base_url  # the URL is only put together when a span needs it
        self.path = path
        self.status: int | None = None
        self.retries = 0
        self._span: Span | None = None
        self._started = 0.0

    def answered(self, status: int, retries: int = 0) -> None:
        self.status = status
        self.retries = retries

    def __enter__(self) -> UpstreamExchange:
        if tracing.enabled():
            url = URL(self.base_url.rstrip("/") + "/" + self.path.lstrip("/"), encoded=True)
            self._span = tracing.TRACER.start_span(
                self.method,
                kind=SpanKind.CLIENT,
                attributes={
                    "http.request.method": self.method,
                    "server.address": url.host or "",
                    "server.port": url.port or (443 if url.scheme == "https" else 80),
                    "url.full": str(url.with_query(None).with_fragment(None)),
                    "agent_bridge.backend": self.backend,
                },
            )
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        elapsed = time.perf_counter() - self._started
        error = None if exc is None else _error_kind(exc)
        label = str(self.status) if self.status is not None else (error or "error")
        UPSTREAM_DURATION.labels(self.backend, self.method, label, str(self.retries)).observe(elapsed)
        if self.status is not None or error in ("timeout", "connection_error"):
            LAST_ANSWERS[self.backend] = LastAnswer(self.status, None if self.status else error, time.time())
        span = self._span
        if span is not None:
            if self.status is not None:
                span.set_attribute("http.response.status_code", self.status)
            if self.retries:
                span.set_attribute("http.request.resend_count", self.retries)
            failure = error or (str(self.status) if self.status is not None and self.status >= 400 else None)
            if failure is not None:
                span.set_attribute("error.type", failure)
                span.set_status(StatusCode.ERROR)
            span.end()
