"""Sessions that end: stateful Streamable HTTP sessions and SSE streams expire after
`server.session_idle_seconds` without a request, and `server.max_sessions` caps each kind in all,
with a 503 that says so; against a real bridge."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import anyio
import httpx2
import pytest

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

JSONRPC_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}


@pytest.fixture
def bridge(tmp_path: Path, sandbox: SandboxProcess, request: pytest.FixtureRequest) -> Generator[BridgeProcess]:
    server: list[str] = ["stateless = false", *getattr(request, "param", ())]
    with running_bridge(write_http_config(tmp_path / "bridge.toml", sandbox.url, extra_server=server)) as process:
        yield process


async def _open_session(http: httpx2.AsyncClient, bridge: BridgeProcess, token: str = "all") -> httpx2.Response:
    headers = {**JSONRPC_HEADERS, **bridge.auth(token)}
    return await http.post(f"{bridge.url}/agents/support/mcp", json=INITIALIZE, headers=headers)


async def _ping(http: httpx2.AsyncClient, bridge: BridgeProcess, session: str) -> httpx2.Response:
    headers = {**JSONRPC_HEADERS, **bridge.auth(), "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"}
    return await http.post(f"{bridge.url}/agents/support/mcp", json=PING, headers=headers)


@pytest.mark.parametrize("bridge", [["session_idle_seconds = 1"]], indirect=True)
async def test_an_idle_streamable_http_session_expires(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        opened = await _open_session(http, bridge)
        session = opened.headers["mcp-session-id"]
        assert (await _ping(http, bridge, session)).status_code == 200  # in use: alive
        with anyio.fail_after(20):
            while (await _ping(http, bridge, session)).status_code != 404:  # noqa: ASYNC110 - the server's state
                await anyio.sleep(1.5)  # longer than the idle time, so the next ping finds it gone


@pytest.mark.parametrize("bridge", [["session_idle_seconds = 1"]], indirect=True)
async def test_an_idle_sse_stream_ends_and_its_session_is_gone(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(headers=bridge.auth(), timeout=30) as http:
        with anyio.fail_after(20):
            async with http.stream("GET", f"{bridge.url}/agents/support/sse") as stream:
                endpoint = ""
                async for line in stream.aiter_lines():  # read to the end: the server closes it when idle
                    if line.startswith("data: ") and not endpoint:
                        endpoint = line.removeprefix("data: ")
        assert endpoint
        late = await http.post(f"{bridge.url}{endpoint}", json=PING)
        assert late.status_code == 404, late.text


@pytest.mark.parametrize("bridge", [["max_sessions = 1"]], indirect=True)
async def test_the_cap_in_all_refuses_clearly(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        assert (await _open_session(http, bridge, "all")).status_code == 200
        refused = await _open_session(http, bridge, "support")  # another token: the cap is in all
        assert refused.status_code == 503, refused.text
        assert "already holds 1 open sessions" in refused.text and "server.max_sessions" in refused.text
        async with http.stream("GET", f"{bridge.url}/agents/support/sse", headers=bridge.auth()) as first:
            assert first.status_code == 200
            second = await http.get(f"{bridge.url}/agents/support/sse", headers=bridge.auth("support"))
            assert second.status_code == 503 and "1 open SSE streams" in second.text, second.text
