"""A replica's node id, configured or generated: `agent-bridge serve` with a shared store (a real Valkey)
and no `server.node_id` names itself after its host name (sanitised to the id's pattern), logs it, and
writes it into its SSE message paths; a process without a store has none, as before."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx2
import pytest

from mcp_server.node_id import from_host_name
from tests.support.bridge_http import TOKENS, running_bridge_logging_to, write_http_config
from tests.support.engines import ValkeyProcess
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"Bearer {TOKENS['all'][0]}"}


@pytest.mark.parametrize(
    ("host_name", "node"),
    [
        ("bridge-1", "bridge-1"),
        ("agent-bridge-0", "agent-bridge-0"),
        ("Bridge_2.internal.example.com", "bridge-2"),  # the first label, lower case, `_` becomes `-`
        ("3f2a9c1d7e4b", "3f2a9c1d7e4b"),  # a container id (compose without `hostname:`)
        ("--web..", "web"),
        ("x" * 80, "x" * 63),
        ("a" * 62 + "_b", "a" * 62),  # cut to 63, no trailing `-`
    ],
)
def test_a_host_name_becomes_a_node_id(host_name: str, node: str) -> None:
    assert from_host_name(host_name) == node


def test_a_host_name_that_leaves_nothing_still_gives_the_same_valid_id() -> None:
    node = from_host_name("___")
    assert node.startswith("node-") and len(node) == 17
    assert node == from_host_name("___") != from_host_name("____")


async def first_endpoint(url: str) -> str:
    """The messages path an SSE stream at `url` announces (its `endpoint` event)."""
    async with httpx2.AsyncClient(timeout=30) as http, http.stream("GET", url, headers=AUTH) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                return line.removeprefix("data: ")
    raise AssertionError("the stream ended before its endpoint event")


async def test_a_replica_with_a_store_and_no_node_id_is_named_after_its_host(
    sandbox: SandboxProcess, valkey: ValkeyProcess, tmp_path: Path
) -> None:
    config = write_http_config(
        tmp_path / "replica.toml", sandbox.url, extra_tables=["[store]", f'url = "{valkey.url}"']
    )
    node = from_host_name(socket.gethostname())
    log = tmp_path / "replica.log"
    with running_bridge_logging_to(config, log, level="info") as bridge:
        async with httpx2.AsyncClient(timeout=30) as http:
            health = (await http.get(f"{bridge.url}/healthz")).json()
        endpoint = await first_endpoint(f"{bridge.url}/agents/support/sse")
    assert health == {"status": "ok", "replica": node}
    assert endpoint.startswith(f"/agents/support/messages/{node}/?session_id=")
    assert f"replica node id {node} (from the host name;" in log.read_text()


async def test_a_configured_node_id_wins_and_is_logged(
    sandbox: SandboxProcess, valkey: ValkeyProcess, tmp_path: Path
) -> None:
    tables = ["[store]", f'url = "{valkey.url}"']
    config = write_http_config(
        tmp_path / "replica.toml", sandbox.url, extra_server=['node_id = "edge-7"'], extra_tables=tables
    )
    log = tmp_path / "replica.log"
    with running_bridge_logging_to(config, log, level="info") as bridge:
        async with httpx2.AsyncClient(timeout=30) as http:
            health = (await http.get(f"{bridge.url}/healthz")).json()
        endpoint = await first_endpoint(f"{bridge.url}/agents/support/sse")
    assert health == {"status": "ok", "replica": "edge-7"}
    assert endpoint.startswith("/agents/support/messages/edge-7/?session_id=")
    assert "replica node id edge-7 (configured)" in log.read_text()


async def test_one_process_without_a_store_has_no_node_id(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "single.toml", sandbox.url)
    log = tmp_path / "single.log"
    with running_bridge_logging_to(config, log, level="info") as bridge:
        async with httpx2.AsyncClient(timeout=30) as http:
            health = (await http.get(f"{bridge.url}/healthz")).json()
        endpoint = await first_endpoint(f"{bridge.url}/agents/support/sse")
    assert health == {"status": "ok"}
    assert endpoint.startswith("/agents/support/messages/?session_id=")
    assert "replica node id" not in log.read_text()
