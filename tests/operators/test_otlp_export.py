"""OTLP export from a real bridge (`serve`, and `stdio`): with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the spans
of a tool call reach an OTLP/HTTP receiver (a small one in this test, decoding the protobuf the exporter
sends), the upstream request's span under the MCP message's span, in one trace."""

from __future__ import annotations

import threading
from collections.abc import Generator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from mcp_server import launch
from tests.support.bridge_http import write_http_config
from tests.support.bridge_stdio import env_mode, stdio_params
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio


@contextmanager
def otlp_receiver() -> Generator[tuple[str, list[Span]]]:
    spans: list[Span] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces":
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        spans.extend(scope.spans)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", spans
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_a_tool_call_is_exported_as_one_trace(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url, tokens=False)
    with otlp_receiver() as (endpoint, spans):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with launch.running(["serve", "--config", str(config), "--port", "0"], env=env, quiet=True) as bridge:
            async with httpx2.AsyncClient(timeout=30) as http:
                transport = streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)
                async with Client(transport) as client:
                    result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
        # The bridge has stopped: its provider flushed every span on the way out.
    assert not result.is_error
    assert_one_trace(spans, "tools/call ask")


def assert_one_trace(spans: list[Span], message_name: str) -> None:
    message = [s for s in spans if s.name == message_name and s.kind == Span.SPAN_KIND_SERVER]
    assert len(message) == 1, [s.name for s in spans]
    upstream = [s for s in spans if s.kind == Span.SPAN_KIND_CLIENT and s.parent_span_id == message[0].span_id]
    assert upstream and all(s.trace_id == message[0].trace_id for s in upstream)
    assert {s.name for s in upstream} >= {"POST"}


async def test_stdio_exports_too(sandbox: SandboxProcess) -> None:
    with otlp_receiver() as (endpoint, spans):
        env = {**env_mode(sandbox.url), "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "PATH": "/usr/bin:/bin"}
        async with Client(stdio_params(env=env)) as client:
            result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
        # The client closed stdin: the bridge exited after flushing its spans.
    assert not result.is_error
    assert_one_trace(spans, "tools/call ask")
