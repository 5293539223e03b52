"""A replica that runs `--workers 2`: its SSE message paths name the replica (`/messages/<node_id>/`, for
the balancer) and the worker holding the stream (`&node=`, for the relay between workers), and a message
POST works whichever worker it lands in. Both workers are the same replica, whether its node id is
configured or made from the host name."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from anyio.abc import TaskGroup
from mcp import Client
from mcp.client.sse import sse_client

from mcp_server.node_id import from_host_name
from mcp_server.worker_relay import SOCKETS_DIR_ENV
from tests.scale.cluster import children
from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.engines import ValkeyProcess
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"Bearer {TOKENS['all'][0]}"}
QUESTION = "How long are backups kept on the Pro plan?"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ENDPOINT = re.compile(
    r"^/agents/support/messages/(?P<replica>[a-z0-9-]+)/\?session_id=[0-9a-f]{32}&node=(?P<node>[0-9a-f]{16})$"
)


def fresh(timeout: float = 30) -> httpx2.AsyncClient:
    """A client that opens a new connection for every request, so requests spread over the workers."""
    return httpx2.AsyncClient(timeout=timeout, limits=httpx2.Limits(max_keepalive_connections=0))


async def workers(bridge: BridgeProcess, within: float = 60.0) -> list[dict[str, str]]:
    """/healthz of each worker, asked on fresh connections until both have answered (the supervisor
    prints its ready line before every worker is up)."""
    seen: dict[str, dict[str, str]] = {}
    async with fresh() as http:
        with anyio.move_on_after(within):
            while len(seen) < 2:
                body = (await http.get(f"{bridge.url}/healthz")).json()
                seen[body["node"]] = body
                await anyio.sleep(0.02)
    return list(seen.values())


async def streams_on_both_workers(bridge: BridgeProcess, tg: TaskGroup, done: anyio.Event) -> dict[str, str]:
    """Hold SSE streams open until one lands in each worker; worker node -> its stream's messages path."""
    streams: dict[str, str] = {}

    async def hold() -> None:
        async with fresh() as http, http.stream("GET", f"{bridge.url}/agents/support/sse", headers=AUTH) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    endpoint = line.removeprefix("data: ")
                    found = ENDPOINT.match(endpoint)
                    assert found, endpoint
                    streams.setdefault(found["node"], endpoint)
                    await done.wait()
                    return

    with anyio.fail_after(60):
        while len(streams) < 2:
            tg.start_soon(hold)
            await anyio.sleep(0.1)
    return streams


def worker_sockets(bridge: BridgeProcess) -> dict[str, Path]:
    """Worker node -> the Unix socket it relays on, read from the workers' environment (the directory
    the supervisor made for them)."""
    sockets: dict[str, Path] = {}
    for pid in children(bridge.process.pid):
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        found = [v.split(b"=", 1)[1] for v in environ if v.startswith(SOCKETS_DIR_ENV.encode() + b"=")]
        if found:
            sockets.update({path.stem: path for path in Path(found[0].decode()).glob("*.sock")})
    return sockets


async def sse_sessions_work(bridge: BridgeProcess, replica: str) -> None:
    """Streams in both workers name `replica`; POSTs to each from fresh connections (so from both
    workers) are taken; whole SDK sessions over SSE get their answers."""
    async with anyio.create_task_group() as tg:
        done = anyio.Event()
        streams = await streams_on_both_workers(bridge, tg, done)
        sockets = worker_sockets(bridge)
        assert set(sockets) == set(streams)
        host = {"Host": bridge.url.removeprefix("http://")}
        for node, endpoint in streams.items():
            assert endpoint.startswith(f"/agents/support/messages/{replica}/?session_id=")
            (other,) = set(sockets) - {node}
            # Into the worker that does not hold the stream (on its own socket): relayed to the one that does.
            transport = httpx2.AsyncHTTPTransport(uds=str(sockets[other]))
            async with httpx2.AsyncClient(transport=transport, timeout=30) as http:
                posted = await http.post(f"http://worker{endpoint}", json=INITIALIZE, headers={**AUTH, **host})
            assert posted.status_code == 202, posted.text
            async with fresh() as http:  # and through the shared port, a new connection each time
                for _ in range(6):
                    posted = await http.post(f"{bridge.url}{endpoint}", json=INITIALIZE, headers=AUTH)
                    assert posted.status_code == 202, posted.text
        done.set()

    answers: list[str] = []

    async def session() -> None:
        transport = sse_client(f"{bridge.url}/agents/support/sse", headers=AUTH, httpx_client_factory=no_keepalive)
        async with Client(transport, mode="legacy") as client:
            for _ in range(3):
                result = await client.call_tool("ask", {"question": QUESTION})
                assert not result.is_error, result.content
                answers.append(" ".join(c.text for c in result.content if isinstance(c, types.TextContent)))

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(session)
    assert len(answers) == 18 and all("90 days" in a for a in answers)


def no_keepalive(
    headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
) -> httpx2.AsyncClient:
    """The SDK's SSE client with a new connection per request, so its POSTs land in either worker."""
    return httpx2.AsyncClient(
        headers=headers,
        timeout=timeout or httpx2.Timeout(30, read=300),
        auth=auth,
        follow_redirects=True,
        limits=httpx2.Limits(max_keepalive_connections=0),
    )


async def test_a_configured_node_id_over_two_workers(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "replica.toml", sandbox.url, extra_server=['node_id = "bridge-9"'])
    with running_bridge(config, "--workers", "2") as bridge:
        both = await workers(bridge)
        assert len(both) == 2 and {w["replica"] for w in both} == {"bridge-9"}
        await sse_sessions_work(bridge, "bridge-9")


async def test_a_generated_node_id_is_the_same_in_both_workers(
    sandbox: SandboxProcess, valkey: ValkeyProcess, tmp_path: Path
) -> None:
    tables = ["[store]", f'url = "{valkey.url}"']
    config = write_http_config(tmp_path / "replica.toml", sandbox.url, extra_tables=tables)
    replica = from_host_name(socket.gethostname())
    with running_bridge(config, "--workers", "2") as bridge:
        both = await workers(bridge)
        assert len(both) == 2 and {w["replica"] for w in both} == {replica}
        await sse_sessions_work(bridge, replica)
