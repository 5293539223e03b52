"""Three replicas behind a real nginx, one real Valkey: a conversation continues on another replica,
SSE works whichever replica holds the stream, an Actions answer continues on another replica, a Valkey
outage gives clear errors and passes."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.scale.cluster import NODES, Cluster, running_cluster
from tests.support.bridge_http import TOKENS
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"Bearer {TOKENS['all'][0]}"}
QUESTION = "How long are backups kept on the Pro plan?"


@pytest.fixture(scope="module")
def cluster(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[Cluster]:
    with running_cluster(sandbox_session, tmp_path_factory.mktemp("cluster")) as running:
        yield running


@asynccontextmanager
async def mcp(url: str) -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers=AUTH, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def structured(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def error_text(result: types.CallToolResult) -> str:
    assert result.is_error
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_a_conversation_continues_on_another_replica(cluster: Cluster) -> None:
    one, two, three = cluster.replicas
    async with mcp(f"{one.url}/agents/chat/mcp") as client:
        first = structured(await client.call_tool("ask", {"question": QUESTION}))
    conversation = first["conversation_id"]
    async with mcp(f"{two.url}/agents/chat/mcp") as client:
        follow_up = structured(
            await client.call_tool("ask", {"question": "And on the Free plan?", "conversation_id": conversation})
        )
    assert follow_up["conversation_id"] == conversation
    async with mcp(f"{three.url}/agents/chat/mcp") as client:
        transcript = await client.read_resource(f"agent://chat/conversations/{conversation}")
    text = " ".join(c.text for c in transcript.contents if isinstance(c, types.TextResourceContents))
    assert QUESTION in text and "And on the Free plan?" in text  # both turns, asked on two other replicas
    async with mcp(f"{cluster.url}/agents/chat/mcp") as client:  # and through nginx, wherever it lands
        for _ in range(3):
            structured(await client.call_tool("ask", {"question": "Anything else?", "conversation_id": conversation}))


async def test_sse_through_nginx_works_on_whichever_replica_holds_the_stream(cluster: Cluster) -> None:
    posted_to: set[str] = set()

    def recording_client(
        headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
    ) -> httpx2.AsyncClient:
        client = create_mcp_http_client(headers, timeout, auth)

        async def record(request: httpx2.Request) -> None:
            if request.method == "POST":
                posted_to.add(request.url.path)

        client.event_hooks["request"].append(record)
        return client

    for _ in range(9):  # round robin over 3 replicas: every replica holds some of these streams
        transport = sse_client(f"{cluster.url}/agents/support/sse", headers=AUTH, httpx_client_factory=recording_client)
        async with Client(transport, mode="legacy") as client:
            await client.list_tools()
            assert structured(await client.call_tool("ask", {"question": QUESTION}))["answer"]
    assert posted_to == {f"/agents/support/messages/{node}/" for node in NODES}


async def test_a_message_sent_to_the_wrong_replica_says_how_to_route_it(cluster: Cluster) -> None:
    one = cluster.replicas[0]
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.post(f"{one.url}/messages/bridge-2/?session_id={'0' * 32}", json={}, headers=AUTH)
        health = await http.get(f"{one.url}/healthz")
    assert response.status_code == 404
    assert "replica 'bridge-2' but reached replica 'bridge-1'" in response.json()["message"]
    assert health.json() == {"status": "ok", "replica": "bridge-1"}


async def test_an_actions_answer_continues_on_another_replica(
    cluster: Cluster, sandbox_session: SandboxProcess
) -> None:
    one, two, _ = cluster.replicas
    sandbox_session.arm_fault("slow", count=1, path="/messages$", drip=0.1)  # answers over ~2 s, wait is 1 s
    try:
        async with httpx2.AsyncClient(headers=AUTH, timeout=30) as http:
            started = (await http.post(f"{one.url}/actions/support/ask", json={"question": QUESTION})).json()
            assert started["status"] == "in_progress", started
            answer_id = started["answer_id"]
            body: dict[str, Any] = {}
            for _ in range(30):
                body = (await http.get(f"{two.url}/actions/support/answers/{answer_id}")).json()
                if body["status"] == "complete":
                    break
            else:
                pytest.fail(f"the answer never completed: {body}")
            assert body["answer"] and body["answer"].startswith(started["answer"])
            other = await http.get(
                f"{two.url}/actions/support/answers/{answer_id}",
                headers={"Authorization": f"Bearer {TOKENS['support'][0]}"},
            )
            assert other.status_code == 404  # another token's answer does not exist for it, on any replica
    finally:
        sandbox_session.clear_faults()


async def test_a_store_outage_gives_clear_errors_and_passes(cluster: Cluster) -> None:
    async with mcp(f"{cluster.url}/agents/chat/mcp") as client:
        conversation = structured(await client.call_tool("ask", {"question": QUESTION}))["conversation_id"]
    cluster.valkey.stop()
    try:
        async with mcp(f"{cluster.url}/agents/chat/mcp") as client:
            failed = await client.call_tool("ask", {"question": "More?", "conversation_id": conversation})
        message = error_text(failed)
        assert f"the shared store (Valkey/Redis at 127.0.0.1:{cluster.valkey.port}/0) did not answer" in message
        assert "check that it is running" in message
        async with mcp(f"{cluster.url}/agents/support/mcp") as client:  # needs no store: keeps working
            structured(await client.call_tool("ask", {"question": QUESTION}))
        async with httpx2.AsyncClient(headers=AUTH, timeout=30) as http:
            refused = await http.post(f"{cluster.url}/actions/support/ask", json={"question": QUESTION})
        assert refused.status_code == 503 and refused.json()["error"] == "store_unavailable"
        assert "did not answer" in refused.json()["message"] and refused.headers["retry-after"] == "5"
    finally:
        cluster.valkey.start()
    async with mcp(f"{cluster.url}/agents/chat/mcp") as client:  # back: conversations work again
        fresh = structured(await client.call_tool("ask", {"question": QUESTION}))["conversation_id"]
        structured(await client.call_tool("ask", {"question": "More?", "conversation_id": fresh}))
