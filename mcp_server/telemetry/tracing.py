"""OpenTelemetry traces: exported over OTLP only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

The MCP SDK opens a SERVER span per inbound message (its `OpenTelemetryMiddleware`); the bridge adds
a CLIENT span per upstream request (`telemetry.upstream`), which nests under it because it is opened
in the same context. Without the endpoint no provider is installed and the bridge opens no spans of
its own at all (`enabled()` is false), so tracing costs nothing.

The exporter is the optional extra `agent-bridge[otel]` (opentelemetry-sdk and the OTLP/HTTP
exporter); the standard `OTEL_*` variables (service name, headers, sampler, batch delay) apply.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from typing import Final

from opentelemetry import trace

logger = logging.getLogger(__name__)

ENDPOINT_ENVS: Final = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACER: Final = trace.get_tracer("agent-bridge")

_enabled = False


def enabled() -> bool:
    """Whether the bridge opens spans of its own (a tracer provider is installed)."""
    return _enabled


def enable() -> None:
    """Open spans from now on: a tracer provider has been installed (by `exporting`, or a test)."""
    global _enabled
    _enabled = True


@contextmanager
def exporting(env: Mapping[str, str] | None = None) -> Generator[bool]:
    """Export spans over OTLP for the duration of the block when an endpoint is configured; flush at the end.

    Yields whether it exports. An endpoint without the `otel` extra installed is logged once and ignored.
    """
    environ = os.environ if env is None else env
    if not any(environ.get(name) for name in ENDPOINT_ENVS):
        yield False
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed; "
            "install agent-bridge[otel] to export traces"
        )
        yield False
        return
    provider = TracerProvider(
        resource=Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME", "agent-bridge")})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    enable()
    try:
        yield True
    finally:
        provider.shutdown()  # flushes what is still queued
