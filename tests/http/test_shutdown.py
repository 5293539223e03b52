"""SIGTERM on `agent-bridge serve`: idle SSE streams never hold the shutdown, a call still streaming its
answer gets `server.shutdown_grace_seconds`, and 0 means "do not wait"; the exit code is 0."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from tests.support.bridge_http import (
    TOKENS,
    BridgeProcess,
    running_bridge,
    running_bridge_logging_to,
    write_http_config,
)
from tests.support.sandbox_process import SandboxProcess

QUESTION = "How do I restore a deleted file?"
MESSAGES = r"/conversations/[^/]+/messages$"
AUTH = {"Authorization": f"Bearer {TOKENS['all'][0]}"}


def _message_posts(sandbox: SandboxProcess) -> int:
    requests: dict[str, int] = sandbox.stats()["requests"]
    return sum(n for route, n in requests.items() if route.endswith("/messages"))


def _open_idle_stream(bridge: BridgeProcess, http: httpx2.Client, ended: threading.Event) -> None:
    """Open an SSE stream, read its endpoint event, then keep it open (reading) until the server ends it."""
    opened = threading.Event()

    def hold() -> None:
        try:
            with http.stream("GET", f"{bridge.url}/agents/support/sse", headers=AUTH) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith("event: endpoint"):
                        opened.set()
        except httpx2.HTTPError:
            pass
        finally:
            opened.set()
            ended.set()

    threading.Thread(target=hold, daemon=True).start()
    assert opened.wait(15)
    assert not ended.is_set()


def _stop(process: subprocess.Popen[str]) -> float:
    """SIGTERM the bridge; how long it took to exit (it must, within 20 s)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return float("inf")
    return time.monotonic() - started


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_idle_sse_stream_does_not_hold_sigterm(sandbox: SandboxProcess, tmp_path: Path, workers: str) -> None:
    """Default grace (30 s): an open, idle SSE stream is ended at once, and the bridge exits 0 promptly."""
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url, extra_server=["stateless = true"])
    ended = threading.Event()
    with running_bridge(config, "--workers", workers) as bridge, httpx2.Client(timeout=30) as http:
        _open_idle_stream(bridge, http, ended)
        elapsed = _stop(bridge.process)
        assert elapsed < 8, f"SIGTERM took {elapsed:.1f} s with an idle SSE stream open"
        assert bridge.process.returncode == 0
        assert ended.wait(5)  # the client saw its stream end
    print(f"\nshutdown with an idle SSE stream (--workers {workers}): {elapsed:.2f} s")


def test_zero_grace_does_not_wait_for_a_running_call(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """`shutdown_grace_seconds = 0`: a call in flight is cancelled at once instead of waited for forever."""
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url, extra_server=["shutdown_grace_seconds = 0"])
    sandbox.arm_fault("latency", count=1, path=MESSAGES, latency=15.0)
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
        **AUTH,
    }
    before = _message_posts(sandbox)
    with running_bridge(config) as bridge:

        def post() -> None:
            with contextlib.suppress(httpx2.HTTPError):
                httpx2.post(f"{bridge.url}/agents/support/mcp", json=body, headers=headers, timeout=30)

        call = threading.Thread(target=post, daemon=True)
        call.start()
        deadline = time.monotonic() + 15
        while _message_posts(sandbox) == before and time.monotonic() < deadline:
            time.sleep(0.05)  # the call is in flight once the sandbox has its message
        elapsed = _stop(bridge.process)
        assert elapsed < 8, f"SIGTERM took {elapsed:.1f} s with grace 0 and a call in flight"
        assert bridge.process.returncode == 0
    print(f"\nshutdown with grace 0 and a call in flight: {elapsed:.2f} s")


@pytest.mark.anyio
async def test_a_call_streaming_on_sse_gets_its_answer_before_shutdown(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """An SSE stream that owes an answer stays open until it has sent it, then the bridge exits 0."""
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url)
    sandbox.arm_fault("latency", count=1, path=MESSAGES, latency=2.0)
    before = _message_posts(sandbox)
    with running_bridge(config) as bridge:
        async with Client(sse_client(f"{bridge.url}/agents/support/sse", headers=AUTH), mode="legacy") as client:
            await client.list_tools()  # the client checks results against the tools' schemas: list them now
            result: list[types.CallToolResult] = []

            async def call() -> None:
                result.append(await client.call_tool("ask", {"question": QUESTION}))

            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                with anyio.fail_after(15):
                    while _message_posts(sandbox) == before:  # noqa: ASYNC110 - another process's counter
                        await anyio.sleep(0.05)
                bridge.process.send_signal(signal.SIGTERM)
        assert not result[0].is_error
        assert any("deleted" in c.text for c in result[0].content if isinstance(c, types.TextContent))
        assert bridge.process.wait(timeout=20) == 0


def test_a_planned_shutdown_logs_one_info_line_per_closed_stream(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url, extra_server=["stateless = true"])
    log = tmp_path / "bridge.log"
    ended = threading.Event()
    with running_bridge_logging_to(config, log, level="info") as bridge, httpx2.Client(timeout=30) as http:
        _open_idle_stream(bridge, http, ended)
        assert _stop(bridge.process) < 8 and bridge.process.returncode == 0
    text = log.read_text()
    closed = [line for line in text.splitlines() if "closed for shutdown" in line]
    assert len(closed) == 1 and "INFO" in closed[0] and "session#" in closed[0], closed
    assert "Traceback" not in text and "ERROR" not in text, text
