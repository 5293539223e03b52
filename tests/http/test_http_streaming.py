"""Long calls over HTTP: a client that cancels (or goes away) aborts the upstream stream, observed
at the sandbox, and the bridge keeps serving."""

from __future__ import annotations

import signal
import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How do I restore a deleted file?"
MESSAGES = r"/conversations/[^/]+/messages$"


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("stream") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


@pytest.fixture(scope="module")
def session_bridge(
    sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory
) -> Generator[BridgeProcess]:
    """Streamable HTTP with server-side sessions, where notifications/cancelled can find its request."""
    path = tmp_path_factory.mktemp("sessions") / "bridge.toml"
    config = write_http_config(path, sandbox_session.url, extra_server=["stateless = false"])
    with running_bridge(config) as process:
        yield process


async def _wait_for_disconnect(sandbox: SandboxProcess, before: int) -> None:
    with anyio.fail_after(15):
        while sandbox.stats()["streams_disconnected"] <= before:  # noqa: ASYNC110 - another process's counter
            await anyio.sleep(0.1)


@pytest.mark.parametrize("transport", ["streamable-http-sessions", "sse"])
async def test_cancelled_call_aborts_the_upstream_stream(
    sandbox: SandboxProcess, bridge: BridgeProcess, session_bridge: BridgeProcess, transport: str
) -> None:
    if transport != "sse":
        bridge = session_bridge
    before = sandbox.stats()["streams_disconnected"]
    sandbox.arm_fault("slow", count=1, path=MESSAGES, drip=1.0)
    first_piece = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message:
            first_piece.set()

    async with httpx2.AsyncClient(headers=bridge.auth(), timeout=30) as http:
        if transport == "sse":
            connection = sse_client(f"{bridge.url}/agents/support/sse", headers=bridge.auth())
        else:
            connection = streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)
        async with Client(connection, mode="legacy") as client:
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)

                tg.start_soon(call)
                with anyio.fail_after(30):
                    await first_piece.wait()
                tg.cancel_scope.cancel()
            await _wait_for_disconnect(sandbox, before)
            after = await client.call_tool("list_sources", {})
    assert not after.is_error
    assert sandbox.stats()["open_streams"] == 0


async def test_stateless_client_that_hangs_up_aborts_the_upstream_stream(
    sandbox: SandboxProcess, bridge: BridgeProcess
) -> None:
    """Stateless Streamable HTTP has no session to carry notifications/cancelled to the request it
    names; a client cancels by closing the response stream, and the bridge must notice."""
    before = sandbox.stats()["streams_disconnected"]
    sandbox.arm_fault("slow", count=1, path=MESSAGES, drip=1.0)
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "ask", "arguments": {"question": QUESTION}, "_meta": {"progressToken": "p1"}},
    }
    headers = {
        **bridge.auth(),
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        http.stream("POST", f"{bridge.url}/agents/support/mcp", json=body, headers=headers) as response,
    ):
        lines = response.aiter_lines()
        async for line in lines:
            if "notifications/progress" in line:
                break  # hang up after the first piece of the answer
    await _wait_for_disconnect(sandbox, before)
    async with httpx2.AsyncClient(timeout=30) as http:
        still = await http.post(
            f"{bridge.url}/agents/support/mcp",
            json={"jsonrpc": "2.0", "id": 8, "method": "tools/list"},
            headers=headers,
        )
    assert still.status_code == 200


def _message_posts(sandbox: SandboxProcess) -> int:
    requests: dict[str, int] = sandbox.stats()["requests"]
    return sum(n for route, n in requests.items() if route.endswith("/messages"))


def test_sigterm_lets_an_in_flight_call_finish(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """Graceful shutdown: the server stops on SIGTERM only after the running call has answered."""
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url)
    sandbox.arm_fault("latency", count=1, path=MESSAGES, latency=2.0)
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ask", "arguments": {"question": QUESTION}},
    }
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
        "Authorization": "Bearer tok-all-6f1c2b",
    }
    before = _message_posts(sandbox)
    with running_bridge(config) as bridge, ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(httpx2.post, f"{bridge.url}/agents/support/mcp", json=body, headers=headers, timeout=30)
        deadline = time.monotonic() + 15
        while _message_posts(sandbox) == before and time.monotonic() < deadline:
            time.sleep(0.05)  # the call is in flight once the sandbox has its message
        bridge.process.send_signal(signal.SIGTERM)
        response = pending.result(timeout=30)
        # uvicorn re-raises SIGTERM once it has drained, so the exit status is "terminated by SIGTERM".
        assert bridge.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert response.status_code == 200
    assert '"isError":false' in response.text
    assert "Show deleted files" in response.text
