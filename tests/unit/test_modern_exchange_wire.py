"""`modern_exchange` against the SDK's own 2026-07-28 entry, byte for byte.

One SDK low-level server; each request goes once through the SDK's `handle_modern_request` and once
through `serve_modern_exchange`, and the ASGI messages each writes are compared. A request the SDK
would refuse must not be served by the bridge's entry at all (it returns False and sends nothing), so
the SDK writes the refusal. A unit test of one function against the function it stands in for.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import MCPError
from mcp.server._streamable_http_modern import handle_modern_request  # pyright: ignore[reportPrivateUsage]
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Message, Scope

from mcp_server.modern_exchange import serve_modern_exchange
from tests.support.asgi import http_scope

pytestmark = pytest.mark.anyio

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}}
ROUTED = {"type": "object", "properties": {"text": {"type": "string", "x-mcp-header": "Text"}}}  # Mcp-Param-Text


def _server() -> Server[Any]:
    def schema(name: str) -> dict[str, Any] | None:
        return (
            ROUTED if name == "routed" else SCHEMA if name in ("echo", "chatty", "refuse", "crash", "nulls") else None
        )

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        names = ("echo", "chatty", "refuse", "crash", "routed", "nulls")
        return types.ListToolsResult(tools=[types.Tool(name=n, input_schema=schema(n) or {}) for n in names])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        text = str((params.arguments or {}).get("text", ""))
        if params.name == "chatty":
            for step in (1, 2):
                await ctx.session.report_progress(step, 2, f"piece {step}: {text}")
        elif params.name == "refuse":
            raise MCPError(types.INVALID_PARAMS, f"no: {text}")
        elif params.name == "crash":
            raise RuntimeError("secret internals")
        elif params.name == "nulls":  # null values inside a result are written as they are
            structured = {"title": None, "pages": [None, {"url": None, "n": 1.5}], "text": text}
            return types.CallToolResult(content=[], structured_content=structured)
        elif params.name not in ("echo", "routed"):
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"échos: {text} ✓")])

    return Server("wire", version="1", on_list_tools=list_tools, on_call_tool=call_tool, get_tool_input_schema=schema)


def _scope(headers: dict[str, str]) -> Scope:
    return http_scope("POST", "/mcp", headers=headers)


def _headers(**extra: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        **extra,
    }


def _call(tool: str, arguments: dict[str, Any], progress: str | None = None) -> bytes:
    meta: dict[str, Any] = dict(META) | ({"progressToken": progress} if progress else {})
    params = {"name": tool, "arguments": arguments, "_meta": meta}
    return json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}).encode()


@asynccontextmanager
async def _exchange(body: bytes) -> AsyncGenerator[tuple[list[Message], Any, Any]]:
    """(what was sent, receive, send): receive yields the body, then waits (the client stays)."""
    sent: list[Message] = []
    delivered = False
    stay = anyio.Event()

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await stay.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    yield sent, receive, send
    stay.set()


async def _through_sdk(server: Server[Any], headers: dict[str, str], body: bytes) -> list[Message]:
    async with _exchange(body) as (sent, receive, send):
        settings = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        await handle_modern_request(server, settings, False, None, _scope(headers), receive, send)
    return sent


async def _through_bridge(server: Server[Any], headers: dict[str, str], body: bytes) -> tuple[bool, list[Message]]:
    async with _exchange(body) as (sent, receive, send):
        request = Request(_scope(headers), receive)
        assert (await request.body()) == body  # the endpoint has read the body before
        served = await serve_modern_exchange(server, None, request, body, send)
    return served, sent


SERVED = [
    pytest.param(_headers(**{"mcp-name": "echo"}), _call("echo", {"text": "hé"}), id="result, non-ASCII"),
    pytest.param(_headers(**{"mcp-name": "nulls"}), _call("nulls", {"text": "\u2028"}), id="result with nulls"),
    pytest.param(_headers(**{"mcp-name": "chatty"}), _call("chatty", {"text": "ü"}, "p1"), id="progress stream"),
    pytest.param(_headers(**{"mcp-name": "chatty"}), _call("chatty", {"text": "x"}), id="no progress token"),
    pytest.param(_headers(**{"mcp-name": "refuse"}), _call("refuse", {"text": "x"}), id="MCPError"),
    pytest.param(_headers(**{"mcp-name": "crash"}), _call("crash", {}), id="internal error"),
    pytest.param(_headers(**{"mcp-name": "nope"}), _call("nope", {}), id="unknown tool"),
    pytest.param(
        _headers(**{"mcp-name": "routed", "mcp-param-text": "abc"}), _call("routed", {"text": "abc"}), id="param header"
    ),
    pytest.param(
        _headers(**{"mcp-method": "tools/list"}),
        json.dumps({"jsonrpc": "2.0", "id": "a", "method": "tools/list", "params": {"_meta": META}}).encode(),
        id="tools/list",
    ),
    pytest.param(
        _headers(**{"mcp-method": "no/such"}),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "no/such", "params": {"_meta": META}}).encode(),
        id="unknown method",
    ),
]


@pytest.mark.parametrize(("headers", "body"), SERVED)
async def test_the_bridge_writes_what_the_sdk_writes(headers: dict[str, str], body: bytes) -> None:
    server = _server()
    expected = await _through_sdk(server, headers, body)
    served, got = await _through_bridge(server, headers, body)
    assert served
    assert got == expected
    assert expected[0]["type"] == "http.response.start"  # a real answer was compared


REFUSED = [
    pytest.param(_headers(**{"mcp-name": "echo", "content-type": "text/plain"}), _call("echo", {}), id="content type"),
    pytest.param(_headers(**{"mcp-name": "echo", "accept": "application/json"}), _call("echo", {}), id="accept"),
    pytest.param(_headers(**{"mcp-name": "echo"}), b"{not json", id="parse error"),
    pytest.param(_headers(), json.dumps({"jsonrpc": "2.0", "method": "notifications/x"}).encode(), id="notification"),
    pytest.param(_headers(**{"mcp-name": "echo"}), b"[" + _call("echo", {}) + b"]", id="batch"),
    pytest.param(_headers(**{"mcp-name": "other"}), _call("echo", {}), id="name header mismatch"),
    pytest.param(_headers(), _call("echo", {}), id="name header missing"),
    pytest.param(_headers(**{"mcp-name": "routed"}), _call("routed", {"text": "abc"}), id="param header missing"),
    pytest.param(
        _headers(**{"mcp-name": "routed", "mcp-param-text": "abd"}),
        _call("routed", {"text": "abc"}),
        id="param differs",
    ),
    pytest.param(
        _headers(**{"mcp-name": "echo", "mcp-protocol-version": "2099-01-01"}), _call("echo", {}), id="version"
    ),
]


@pytest.mark.parametrize(("headers", "body"), REFUSED)
async def test_what_the_sdk_refuses_is_left_to_it(headers: dict[str, str], body: bytes) -> None:
    server = _server()
    expected = await _through_sdk(server, headers, body)
    served, got = await _through_bridge(server, headers, body)
    assert not served
    assert got == []
    assert expected[0]["type"] == "http.response.start"
    assert expected[0]["status"] != 200  # the SDK refused it
