"""`/metrics`: who may read it, and what a real client's calls put in it (a real bridge, the sandbox
upstream, the MCP Python SDK client over Streamable HTTP and HTTP+SSE)."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.operators.metrics_text import SCRAPER_TOKEN, scrape, scraper_token_table, value
from tests.support.bridge_http import AGENTS, BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"
MESSAGES = r"/conversations/[^/]+/messages$"
DURATION = "mcp_server_operation_duration_seconds_count"
UPSTREAM = "agent_bridge_upstream_request_duration_seconds_count"
SCRAPER = {"Authorization": f"Bearer {SCRAPER_TOKEN}"}


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(
        tmp_path_factory.mktemp("metrics") / "bridge.toml",
        sandbox_session.url,
        agents=AGENTS,
        extra_tables=scraper_token_table(),
    )
    with running_bridge(config) as process:
        yield process


def test_metrics_need_a_token_with_the_metrics_scope(bridge: BridgeProcess) -> None:
    missing = httpx2.get(f"{bridge.url}/metrics", timeout=30)
    assert missing.status_code == 401 and "token is required" in missing.json()["message"]
    agents_only = httpx2.get(f"{bridge.url}/metrics", headers=bridge.auth(), timeout=30)
    assert agents_only.status_code == 403
    assert 'scopes = ["metrics"]' in agents_only.json()["message"]
    in_query = httpx2.get(f"{bridge.url}/metrics?token={SCRAPER_TOKEN}", timeout=30)
    assert in_query.status_code == 401  # never from the URL: scrape configs put it in a header
    text = scrape(f"{bridge.url}/metrics", SCRAPER)
    assert "# TYPE mcp_server_operation_duration_seconds histogram" in text
    # The scraper's token (agents = []) reaches no agent.
    refused = httpx2.post(
        f"{bridge.url}/mcp", headers={**SCRAPER, "Accept": "application/json, text/event-stream"}, json={}, timeout=30
    )
    assert refused.status_code == 403


async def test_calls_sessions_upstream_and_streaming_are_counted(
    bridge: BridgeProcess, sandbox: SandboxProcess
) -> None:
    before = scrape(f"{bridge.url}/metrics", SCRAPER)
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message:
            pieces.append(message)

    async with httpx2.AsyncClient(headers=bridge.auth(), timeout=30) as http:
        async with Client(streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)) as client:
            answered = await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)
            assert not answered.is_error
            sandbox.arm_fault("rate-limit", path=MESSAGES)
            limited = await client.call_tool("ask", {"question": QUESTION})
            assert limited.is_error
        async with Client(sse_client(f"{bridge.url}/agents/hr/sse", headers=bridge.auth())) as client:
            await client.list_tools()
            during = scrape(f"{bridge.url}/metrics", SCRAPER)
    after = scrape(f"{bridge.url}/metrics", SCRAPER)

    def grew(name: str, by: float = 1, **labels: str) -> None:
        assert value(after, name, **labels) - value(before, name, **labels) >= by, (name, labels)

    call = {"method": "tools/call", "tool": "ask", "agent": "support", "transport": "streamable-http"}

    grew(DURATION, 1, **call, outcome="ok")
    grew(DURATION, 1, **call, outcome="tool_error")  # the upstream's 429 comes back as a tool error
    grew(DURATION, method="tools/list", tool="", agent="", outcome="ok", transport="sse")
    grew(UPSTREAM, backend="customgpt", method="POST", status="200")
    grew(UPSTREAM, backend="customgpt", method="POST", status="429", retries="0")
    assert pieces
    grew("agent_bridge_stream_pieces_relayed_total", by=len(pieces), kind="text")
    assert value(during, "mcp_server_sessions_open", transport="sse") == 1
    assert value(after, "mcp_server_sessions_open", transport="sse") == 0
    grew("mcp_server_session_duration_seconds_count", transport="sse")


async def test_unknown_tools_and_methods_keep_the_labels_bounded(bridge: BridgeProcess) -> None:
    headers = {**bridge.auth(), "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        for name in ("made_up_1", "made_up_2"):
            call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": {}}}
            assert (await http.post(f"{bridge.url}/mcp", json=call)).status_code == 200
        odd = {"jsonrpc": "2.0", "id": 2, "method": "made/up", "params": {}}
        await http.post(f"{bridge.url}/mcp", json=odd)
    text = scrape(f"{bridge.url}/metrics", SCRAPER)
    assert "made_up" not in text and "made/up" not in text
    assert value(text, DURATION, method="tools/call", tool="", agent="", outcome="error") >= 2
    assert value(text, DURATION, method="other") >= 1


def test_refusals_are_counted(bridge: BridgeProcess) -> None:
    before = value(scrape(f"{bridge.url}/metrics", SCRAPER), "agent_bridge_refusals_total", status="401")
    httpx2.post(f"{bridge.url}/mcp", json={}, headers={"Authorization": "Bearer wrong-token"}, timeout=30)
    after = value(scrape(f"{bridge.url}/metrics", SCRAPER), "agent_bridge_refusals_total", status="401")
    assert after - before >= 1


def test_a_config_token_scope_must_be_known(tmp_path: Path, sandbox_session: SandboxProcess) -> None:
    from mcp_server.config_loading import load_file
    from mcp_server.errors import ConfigError

    table = [line.replace('"metrics"', '"metricz"') for line in scraper_token_table()]
    config = write_http_config(tmp_path / "bad.toml", sandbox_session.url, extra_tables=table)
    with pytest.raises(ConfigError, match=r"tokens\[3\]\.scopes"):
        load_file(config)
