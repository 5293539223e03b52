"""Stateless Streamable HTTP served without the SDK's per-request transport (`stateless_exchange`):
what a client sees must not change. Real bridge and sandbox processes, raw HTTP and the SDK client."""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How do I restore a deleted file?"
MESSAGES = r"/conversations/[^/]+/messages$"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("exchange") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


def _headers(bridge: BridgeProcess, protocol: str, tool: str = "ask") -> dict[str, str]:
    headers = {
        **bridge.auth(),
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": protocol,
    }
    if protocol == "2026-07-28":
        headers |= {"Mcp-Method": "tools/call", "Mcp-Name": tool}
    return headers


def _call(request_id: int, arguments: dict[str, Any], protocol: str, progress: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = dict(MODERN_META) if protocol == "2026-07-28" else {}
    if progress is not None:
        meta["progressToken"] = progress
    params: dict[str, Any] = {"name": "ask", "arguments": arguments}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line.removeprefix("data: ")) for line in text.splitlines() if line.startswith("data: ")]


async def test_a_slow_call_without_progress_starts_its_stream_early_and_ends_with_the_answer(
    sandbox: SandboxProcess, bridge: BridgeProcess
) -> None:
    """Past a second the response starts (headers first, as the SDK's transport sends them at once),
    so a client or proxy waiting for headers is not left hanging; the answer still ends it."""
    sandbox.arm_fault("latency", count=1, path=MESSAGES, latency=2.5)
    url = f"{bridge.url}/agents/support/mcp"
    async with httpx2.AsyncClient(timeout=30) as http:
        started = time.monotonic()
        body = _call(3, {"question": QUESTION}, "2025-11-25")
        async with http.stream("POST", url, json=body, headers=_headers(bridge, "2025-11-25")) as response:
            headers_after = time.monotonic() - started
            text = (await response.aread()).decode()
        took = time.monotonic() - started
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache, no-transform"
    assert headers_after < took - 0.5, (headers_after, took)  # headers came before the answer
    [answer] = _events(text)
    assert answer["id"] == 3
    assert answer["result"]["isError"] is False


async def test_progress_notifications_come_before_the_answer_on_the_same_stream(bridge: BridgeProcess) -> None:
    url = f"{bridge.url}/agents/support/mcp"
    async with httpx2.AsyncClient(timeout=30) as http:
        body = _call(4, {"question": QUESTION}, "2025-11-25", progress="tok")
        response = await http.post(url, json=body, headers=_headers(bridge, "2025-11-25"))
    events = _events(response.text)
    assert len(events) >= 2
    *progress, answer = events
    assert all(e["method"] == "notifications/progress" and e["params"]["progressToken"] == "tok" for e in progress)
    assert [e["params"]["progress"] for e in progress] == sorted(e["params"]["progress"] for e in progress)
    assert answer == {"jsonrpc": "2.0", "id": 4, "result": answer["result"]}
    assert not answer["result"]["isError"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5}}', 200, -32602),
        (b'{"jsonrpc": "2.0", "id": 2, "method": "no/such"}', 200, -32601),
        (b'{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "nope"}}', 200, -32602),
        (b'{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": 7}', 400, -32602),
        (b"[1, 2]", 400, -32602),
        (b"{not json", 400, -32700),
    ],
)
async def test_errors_keep_their_status_and_code(bridge: BridgeProcess, body: bytes, status: int, code: int) -> None:
    """Requests the exchange serves answer JSON-RPC errors in the event stream; what it hands to the
    SDK (batches, bodies that do not parse or validate) keeps the SDK's HTTP 400."""
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{bridge.url}/agents/support/mcp", content=body, headers=_headers(bridge, "2025-11-25")
        )
    assert response.status_code == status, response.text
    message = _events(response.text)[0] if status == 200 else response.json()
    assert message["error"]["code"] == code
    assert QUESTION not in response.text


async def test_a_missing_accept_is_still_refused_with_406(bridge: BridgeProcess) -> None:
    headers = {**_headers(bridge, "2025-11-25"), "Accept": "application/json"}
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{bridge.url}/agents/support/mcp", json=_call(1, {"question": QUESTION}, "2025-11-25"), headers=headers
        )
    assert response.status_code == 406


async def _wait_for_disconnect(sandbox: SandboxProcess, before: int) -> None:
    with anyio.fail_after(15):
        while sandbox.stats()["streams_disconnected"] <= before:  # noqa: ASYNC110 - another process's counter
            await anyio.sleep(0.1)


async def test_hanging_up_at_2026_07_28_aborts_the_upstream_stream(
    sandbox: SandboxProcess, bridge: BridgeProcess
) -> None:
    """The 2026-07-28 entry is the SDK's own (it watches for the disconnect itself)."""
    before = sandbox.stats()["streams_disconnected"]
    sandbox.arm_fault("slow", count=1, path=MESSAGES, drip=1.0)
    body = _call(7, {"question": QUESTION}, "2026-07-28", progress="p1")
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        http.stream(
            "POST", f"{bridge.url}/agents/support/mcp", json=body, headers=_headers(bridge, "2026-07-28")
        ) as response,
    ):
        async for line in response.aiter_lines():
            if "notifications/progress" in line:
                break
    await _wait_for_disconnect(sandbox, before)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_sdk_client_calls_every_tool_statelessly(bridge: BridgeProcess, mode: str) -> None:
    async with (
        httpx2.AsyncClient(headers=bridge.auth(), timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http), mode=mode) as client,
    ):
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} >= {"ask", "search_citations", "list_sources"}
        answer = await client.call_tool("ask", {"question": QUESTION})
        sources = await client.call_tool("list_sources", {})
        bad = await client.call_tool("ask", {"nope": 1})
    assert not answer.is_error and not sources.is_error
    assert bad.is_error
