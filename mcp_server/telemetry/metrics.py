"""The Prometheus metric families, and their exposition in one process or across `--workers N`.

Names follow OpenTelemetry's MCP semantic conventions where they exist
(`mcp.server.operation.duration` becomes `mcp_server_operation_duration_seconds`); the bridge's own
families start with `agent_bridge_`. Every label has a bounded set of values: methods outside the
MCP spec are `other`, unknown tools are an empty tool label, statuses are HTTP codes or an error kind.

With `--workers N`, `serve` gives the workers a private `PROMETHEUS_MULTIPROC_DIR` before they
start (prometheus_client picks its multiprocess mode when it is first imported), and any worker
answering `/metrics` sums the files of all of them.
"""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.exposition import generate_latest

MULTIPROC_DIR_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# From a cached tools/list (milliseconds) to a long streamed answer (the call deadline, 300 s by default).
OPERATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
SESSION_BUCKETS: Final = (1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)

OPERATION_DURATION: Final = Histogram(
    "mcp_server_operation_duration_seconds",
    "MCP requests served, by method, tool operation (ask, search_citations, ...), agent, outcome "
    "(ok, tool_error, error, cancelled) and transport (streamable-http, sse, stdio).",
    ("method", "tool", "agent", "outcome", "transport"),
    buckets=OPERATION_BUCKETS,
)
SESSION_DURATION: Final = Histogram(
    "mcp_server_session_duration_seconds",
    "How long MCP sessions (stateful Streamable HTTP sessions, HTTP+SSE streams) stayed open, by transport.",
    ("transport",),
    buckets=SESSION_BUCKETS,
)
SESSIONS_OPEN: Final = Gauge(
    "mcp_server_sessions_open",
    "MCP sessions open now, by transport.",
    ("transport",),
    multiprocess_mode="livesum",
)
UPSTREAM_DURATION: Final = Histogram(
    "agent_bridge_upstream_request_duration_seconds",
    "Requests to upstream APIs (to the end of a streamed body), by backend, HTTP method, status (the HTTP "
    "status code, or timeout / connection_error / error) and retries.",
    ("backend", "method", "status", "retries"),
    buckets=OPERATION_BUCKETS,
)
STREAM_PIECES: Final = Counter(
    "agent_bridge_stream_pieces_relayed_total",
    "Progress notifications relayed to clients while answers stream: text pieces and heartbeats.",
    ("kind",),
)
REFUSALS: Final = Counter(
    "agent_bridge_refusals_total",
    "HTTP requests refused before they reached MCP (401 no or bad token, 403, 404 unknown agent, "
    "429 too many sessions, 503 not ready), by status.",
    ("status",),
)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV) or None


def exposition(directory: str | None = None) -> bytes:
    """The metrics in Prometheus text format: this process's, or (multiprocess) every worker's summed."""
    directory = directory or multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


def retire_from_multiprocess_metrics() -> None:
    """A worker that stops: its live gauges (sessions open) leave the sum; its counters and histograms stay."""
    directory = multiprocess_dir()
    if directory is not None:
        _multiprocess.mark_process_dead(os.getpid(), directory)
