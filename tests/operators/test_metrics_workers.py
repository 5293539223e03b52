"""`serve --workers 2`: whichever worker answers /metrics reports every worker's calls (prometheus
multiprocess mode in a private directory), and so does `server.metrics_port`, served by the supervisor,
which serves no calls itself. No tokens on loopback: /metrics is open like every endpoint."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2
import pytest

from tests.operators.metrics_text import scrape, value
from tests.support.bridge_http import running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess, free_port

pytestmark = pytest.mark.anyio

LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
CALLS = 12
SAMPLE = "mcp_server_operation_duration_seconds_count"


async def _workers_seen(url: str, within: float = 30.0) -> set[str]:
    nodes: set[str] = set()
    async with httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_keepalive_connections=0)) as http:
        with anyio.move_on_after(within):
            while len(nodes) < 2:
                nodes.add((await http.get(f"{url}/healthz")).json()["node"])
                await anyio.sleep(0.02)
    return nodes


async def test_every_worker_counts_in_every_scrape(sandbox: SandboxProcess, tmp_path: Path) -> None:
    metrics_port = free_port()
    config = write_http_config(
        tmp_path / "bridge.toml", sandbox.url, tokens=False, extra_server=[f"metrics_port = {metrics_port}"]
    )
    with running_bridge(config, "--workers", "2") as bridge:
        assert len(await _workers_seen(bridge.url)) == 2
        # Every request on a new connection, so they spread over both workers.
        async with httpx2.AsyncClient(
            headers=HEADERS, timeout=30, limits=httpx2.Limits(max_keepalive_connections=0)
        ) as http:
            for _ in range(CALLS):
                assert (await http.post(f"{bridge.url}/agents/support/mcp", json=LIST_TOOLS)).status_code == 200
            scrapes = [(await http.get(f"{bridge.url}/metrics")).text for _ in range(6)]
        separate = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    counts = {value(text, SAMPLE, method="tools/list", transport="streamable-http") for text in scrapes}
    assert counts == {CALLS}
    assert value(separate, SAMPLE, method="tools/list", transport="streamable-http") == CALLS
