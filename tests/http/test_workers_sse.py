"""HTTP+SSE over `--workers 2`: a message POST that lands in a worker other than its stream's is relayed
to that worker (over its private Unix socket), which authenticates it like a direct one."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def _auth(token: str = "all") -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[token][0]}"}


def _fresh(timeout: float = 30) -> httpx2.AsyncClient:
    """A client that opens a new connection for every request, so requests spread over the workers."""
    return httpx2.AsyncClient(timeout=timeout, limits=httpx2.Limits(max_keepalive_connections=0))


async def _nodes_from_healthz(bridge: BridgeProcess, within: float = 30.0) -> set[str]:
    """The worker nodes seen on fresh connections. The supervisor prints its ready line before every
    worker is up (a busy machine starts the second one seconds later), so ask until both answer."""
    nodes: set[str] = set()
    async with _fresh() as http:
        with anyio.move_on_after(within):
            while len(nodes) < 2:
                nodes.add((await http.get(f"{bridge.url}/healthz")).json()["node"])
                await anyio.sleep(0.02)
    return nodes


async def test_sse_sessions_work_whichever_worker_a_post_lands_in(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "workers.toml", sandbox.url)
    with running_bridge(config, "--workers", "2") as bridge:
        assert len(await _nodes_from_healthz(bridge)) == 2  # both workers answer

        answers: list[str] = []

        async def session(i: int) -> None:
            http = _fresh()
            async with (
                http,
                Client(sse_client(f"{bridge.url}/agents/support/sse", headers=_auth()), mode="legacy") as c,
            ):
                for _ in range(3):
                    result = await c.call_tool("ask", {"question": QUESTION})
                    assert not result.is_error, result.content
                    answers.append("\n".join(x.text for x in result.content if isinstance(x, types.TextContent)))

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(session, i)
        assert len(answers) == 18
        assert all("90 days" in a for a in answers)


async def test_streams_name_their_worker_and_relayed_posts_are_authenticated(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Streams on both workers announce their node; from any worker, a POST without the stream's token is
    401, with another token's 403, with its own 202 (the relay is no way around authentication)."""
    config = write_http_config(tmp_path / "workers.toml", sandbox.url)
    with running_bridge(config, "--workers", "2") as bridge:
        assert len(await _nodes_from_healthz(bridge)) == 2  # both workers are up before streams are spread
        streams: dict[str, str] = {}  # node -> messages URL of a stream held open in it
        async with anyio.create_task_group() as tg:
            done = anyio.Event()

            async def hold(url: str) -> None:
                async with _fresh() as http, http.stream("GET", url, headers=_auth()) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data: ") and "node=" in line:
                            endpoint = line.removeprefix("data: ")
                            found = re.search(r"[?&]node=([0-9a-f]+)", endpoint)
                            assert found
                            streams.setdefault(found.group(1), endpoint)
                            await done.wait()
                            return

            with anyio.fail_after(60):
                for _ in range(60):
                    tg.start_soon(hold, f"{bridge.url}/agents/support/sse")
                    await anyio.sleep(0.05)
                    if len(streams) > 1:
                        break
                assert len(streams) == 2, streams  # streams were served by both workers

                async with _fresh() as http:
                    for endpoint in streams.values():
                        url = f"{bridge.url}{endpoint}"
                        for _ in range(6):  # from both workers, by chance: a new connection each time
                            assert (await http.post(url, json=INITIALIZE)).status_code == 401
                            assert (await http.post(url, json=INITIALIZE, headers=_auth("support"))).status_code == 403
                            assert (await http.post(url, json=INITIALIZE, headers=_auth())).status_code == 202
                        bad_node = re.sub(r"node=[0-9a-f]+", "node=../../etc", url)
                        assert (await http.post(bad_node, json=INITIALIZE, headers=_auth())).status_code == 404
            done.set()
