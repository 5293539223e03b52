"""The bridge's own HTTP+SSE transport (`sse_stream`, `sse_session`) against a real `agent-bridge serve`:
the SDK transport's wire byte for byte, HEAD without a session, and streams that clients open and drop
(many at once, mid-call too) leave no session behind."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Generator

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

TOKEN = TOKENS["all"][0]
SCRAPER = "tok-scraper-5e1d"  # may read /metrics only
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
ENDPOINT = re.compile(rb"^event: endpoint\r\ndata: (/agents/support/messages/\?session_id=[0-9a-f]{32})\r\n\r\n$")
OPEN_SSE = re.compile(r'^mcp_server_sessions_open\{transport="sse"\} (\S+)$', re.MULTILINE)


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    """Tokens on, and a metrics token to read how many SSE streams are open."""
    path = tmp_path_factory.mktemp("lean-sse") / "bridge.toml"
    config = write_http_config(
        path,
        sandbox_session.url,
        extra_server=["stateless = false", "max_sessions_per_token = 500"],
        extra_tables=[
            "[[tokens]]",
            'name = "scraper"',
            f'sha256 = "{hashlib.sha256(SCRAPER.encode()).hexdigest()}"',
            "agents = []",
            'scopes = ["metrics"]',
        ],
    )
    with running_bridge(config) as running:
        yield running


async def _open_streams(http: httpx2.AsyncClient, url: str) -> float:
    response = await http.get(url, headers={"Authorization": f"Bearer {SCRAPER}"})
    response.raise_for_status()
    found = OPEN_SSE.search(response.text)
    return float(found.group(1)) if found else 0.0


async def _wait_for_no_open_streams(bridge: BridgeProcess, http: httpx2.AsyncClient) -> None:
    with anyio.fail_after(20):
        while await _open_streams(http, f"{bridge.url}/metrics") > 0:  # noqa: ASYNC110 - another process
            await anyio.sleep(0.1)


async def test_the_wire_is_the_sdk_transports(bridge: BridgeProcess) -> None:
    """Headers, the endpoint event, 202 "Accepted" and the message events, as the SDK's transport wrote them."""
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        http.stream("GET", f"{bridge.url}/agents/support/sse", headers=AUTH) as stream,
    ):
        assert stream.status_code == 200
        headers = stream.headers
        assert headers["content-type"] == "text/event-stream; charset=utf-8"
        assert headers["cache-control"] == "no-store"
        assert headers["connection"] == "keep-alive"
        assert headers["x-accel-buffering"] == "no"
        assert headers["transfer-encoding"] == "chunked"
        chunks = stream.aiter_raw()
        first = await anext(chunks)
        found = ENDPOINT.match(first)
        assert found is not None, first
        messages = bridge.url + found.group(1).decode()
        accepted = await http.post(messages, json=INITIALIZE, headers=AUTH)
        assert (accepted.status_code, accepted.text) == (202, "Accepted")
        assert "content-type" not in accepted.headers
        event = await anext(chunks)
        assert event.startswith(b'event: message\r\ndata: {"jsonrpc":"2.0","id":1,"result":{')
        assert event.endswith(b"}\r\n\r\n") and event.count(b"\r\n") == 3
        assert json.loads(event.split(b"data: ", 1)[1])["result"]["serverInfo"]["name"] == "agent-bridge"


async def test_head_answers_the_headers_and_opens_no_session(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        answered = await http.head(f"{bridge.url}/sse", headers=AUTH)
        assert answered.status_code == 200
        assert answered.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert answered.content == b""
        await _wait_for_no_open_streams(bridge, http)


async def test_streams_dropped_by_their_clients_leave_nothing_open(bridge: BridgeProcess) -> None:
    """100 clients open a stream; a third drop it at once, a third after initializing, a third while a
    call is in flight. Every stream's session ends with it: none stays counted open, their session ids
    are unknown (404), and the bridge still serves new clients."""
    ask = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "support_ask", "arguments": {"question": "How long are backups kept on the Pro plan?"}},
    }
    dropped: list[str] = []
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=20)
    async with httpx2.AsyncClient(timeout=30, limits=limits) as http:

        async def one(n: int) -> None:
            async with http.stream("GET", f"{bridge.url}/agents/support/sse", headers=AUTH) as stream:
                chunks = stream.aiter_raw()
                found = ENDPOINT.match(await anext(chunks))
                assert found is not None
                messages = bridge.url + found.group(1).decode()
                dropped.append(messages)
                if n % 3 == 0:
                    return
                assert (await http.post(messages, json=INITIALIZE, headers=AUTH)).status_code == 202
                await anext(chunks)
                assert (await http.post(messages, json=INITIALIZED, headers=AUTH)).status_code == 202
                if n % 3 == 2:  # hang up with the answer still owed
                    assert (await http.post(messages, json=ask, headers=AUTH)).status_code == 202

        async with anyio.create_task_group() as clients:
            for n in range(100):
                clients.start_soon(one, n)
        await _wait_for_no_open_streams(bridge, http)
        for messages in dropped[:10]:
            late = await http.post(messages, json=INITIALIZE, headers=AUTH)
            assert late.status_code == 404, late.text
    async with Client(sse_client(f"{bridge.url}/agents/support/sse", headers=AUTH)) as client:
        result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
        assert not result.is_error


async def test_sdk_clients_that_come_and_go_leave_nothing_open(bridge: BridgeProcess) -> None:
    for _ in range(10):
        async with Client(sse_client(f"{bridge.url}/sse?token={TOKEN}")) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert "support_ask" in names
    async with httpx2.AsyncClient(timeout=30) as http:
        await _wait_for_no_open_streams(bridge, http)
