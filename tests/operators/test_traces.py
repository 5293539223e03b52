"""Traces: each upstream request is a CLIENT span (OpenTelemetry's HTTP client attributes) under the SDK's
SERVER span of the MCP message that caused it, checked with the SDK's in-memory exporter around the
bridge's MCP server in this process (the sandbox upstream is a real process). Without an endpoint the
bridge installs no provider and opens no spans of its own."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest
from mcp import Client
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mcp_server.agents import EVERYTHING, AgentRegistry, AgentView, seal_for
from mcp_server.commands.stdio import call_settings
from mcp_server.config_loading import load_file
from mcp_server.mcp_face import build_server
from mcp_server.telemetry import tracing
from tests.support.bridge_http import write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def exporter() -> Generator[InMemorySpanExporter]:
    """The process-wide tracer provider (set once per process), recording into memory."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    tracing.enable()
    yield memory
    provider.shutdown()


def test_no_endpoint_no_exporter() -> None:
    with tracing.exporting(env={}) as exporting:
        assert not exporting


async def test_upstream_spans_are_children_of_the_mcp_message_span(
    exporter: InMemorySpanExporter, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    config = load_file(write_http_config(tmp_path / "bridge.toml", sandbox.url, tokens=False))
    async with AgentRegistry.open(config) as registry:
        view = AgentView(tuple(registry.visible(EVERYTHING)), EVERYTHING)
        server = build_server(lambda _ctx: view, seal_for(config), call_settings(config))
        exporter.clear()
        async with Client(server) as client:
            result = await client.call_tool("support_ask", {"question": "How long are backups kept on the Pro plan?"})
    assert not result.is_error
    spans: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    message = [s for s in spans if s.kind == SpanKind.SERVER and s.name == "tools/call support_ask"]
    assert len(message) == 1, [s.name for s in spans]
    parent = message[0].get_span_context()
    assert parent is not None
    upstream = [s for s in spans if s.kind == SpanKind.CLIENT and s.attributes and "url.full" in s.attributes]
    assert {s.name for s in upstream} >= {"POST"}, [s.name for s in spans]  # the question, and its citations
    for span in upstream:
        assert span.parent is not None and span.parent.span_id == parent.span_id
        context = span.get_span_context()
        assert context is not None and context.trace_id == parent.trace_id
        attributes = span.attributes or {}
        assert span.name == attributes["http.request.method"]
        assert attributes["server.address"] == "127.0.0.1"
        assert attributes["http.response.status_code"] in (200, 201)
        assert attributes["agent_bridge.backend"] == "customgpt"
        assert str(attributes["url.full"]).startswith(f"{sandbox.url}/api/v1/projects/1/")
        assert "?" not in str(attributes["url.full"])
