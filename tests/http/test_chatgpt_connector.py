"""ChatGPT's connector contract on `/chatgpt/mcp` and `/agents/{agent}/chatgpt/mcp`: exactly `search` and
`fetch`, each returning exactly one text item of JSON in the documented shape, over Streamable HTTP and
HTTP+SSE with the MCP Python SDK; scope, caching (no upstream request for a fetch) and bad ids."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("chatgpt") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


@asynccontextmanager
async def _client(bridge: BridgeProcess, path: str, token: str = "all", sse: bool = False) -> AsyncGenerator[Client]:
    headers = {"Authorization": f"Bearer {TOKENS[token][0]}"}
    if sse:
        async with Client(sse_client(f"{bridge.url}{path}", headers=headers)) as client:
            yield client
        return
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}{path}", http_client=http)) as client,
    ):
        yield client


def _one_json_text(result: types.CallToolResult) -> Any:
    """The contract: exactly one content item, of type text, whose text is JSON."""
    assert not result.is_error, result.content
    assert len(result.content) == 1
    item = result.content[0]
    assert isinstance(item, types.TextContent)
    return json.loads(item.text)


def _error_text(result: types.CallToolResult) -> str:
    assert result.is_error
    assert len(result.content) == 1 and isinstance(result.content[0], types.TextContent)
    return result.content[0].text


@pytest.mark.parametrize(
    ("path", "sse"), [("/agents/support/chatgpt/mcp", False), ("/agents/support/chatgpt/sse", True)]
)
async def test_search_and_fetch_have_exactly_the_documented_shapes(bridge: BridgeProcess, path: str, sse: bool) -> None:
    async with _client(bridge, path, sse=sse) as client:
        tools = (await client.list_tools()).tools
        found = _one_json_text(await client.call_tool("search", {"query": QUESTION}))
        fetched = [_one_json_text(await client.call_tool("fetch", {"id": r["id"]})) for r in found["results"]]
    assert sorted(t.name for t in tools) == ["fetch", "search"]
    search = next(t for t in tools if t.name == "search")
    assert search.input_schema["required"] == ["query"] and "one upstream query" in (search.description or "")
    assert set(found) == {"results"} and len(found["results"]) >= 2  # the answer and at least one source
    for result in found["results"]:
        assert set(result) == {"id", "title", "url"} and all(isinstance(v, str) for v in result.values())
    answer, *sources = fetched
    for document, result in zip(fetched, found["results"], strict=True):
        assert set(document) == {"id", "title", "text", "url", "metadata"}
        assert document["id"] == result["id"] and document["title"] == result["title"]
        assert all(isinstance(document[k], str) for k in ("id", "title", "text", "url"))
    assert "90 days" in answer["text"] and "Sources:" in answer["text"]
    assert answer["metadata"] == {"agent": "support", "kind": "answer", "question": QUESTION}
    assert all(
        s["metadata"]["kind"] == "source" and s["url"].startswith("https://docs.sandbox.local/") for s in sources
    )


async def test_a_multi_agent_search_says_which_agent_each_result_came_from(bridge: BridgeProcess) -> None:
    async with _client(bridge, "/chatgpt/mcp") as client:
        found = _one_json_text(await client.call_tool("search", {"query": "How many days of paid leave?"}))
        agents = {
            _one_json_text(await client.call_tool("fetch", {"id": r["id"]}))["metadata"]["agent"]
            for r in found["results"]
        }
    assert agents == {"support", "hr"}
    titles = [r["title"] for r in found["results"]]
    assert any(t.startswith("Northwind Support: ") for t in titles) and any(t.startswith("Acme HR: ") for t in titles)


async def test_scope_holds_for_search_and_fetch(bridge: BridgeProcess) -> None:
    async with _client(bridge, "/chatgpt/mcp", token="support") as client:
        mine = _one_json_text(await client.call_tool("search", {"query": "How many days of paid leave?"}))
        mine_agents = {
            _one_json_text(await client.call_tool("fetch", {"id": r["id"]}))["metadata"]["agent"]
            for r in mine["results"]
        }
    async with _client(bridge, "/chatgpt/mcp", token="all") as client:
        theirs = _one_json_text(await client.call_tool("search", {"query": QUESTION}))
    async with _client(bridge, "/chatgpt/mcp", token="support") as client:
        stolen = await client.call_tool("fetch", {"id": theirs["results"][0]["id"]})
    async with _client(bridge, "/agents/hr/chatgpt/mcp", token="hr-ask") as client:
        own = await client.call_tool("fetch", {"id": mine["results"][0]["id"]})
    assert mine_agents == {"support"}
    assert "Search again" in _error_text(stolen)  # another token's id does not exist for this one
    assert "Search again" in _error_text(own)


async def test_fetch_spends_no_upstream_request(bridge: BridgeProcess, sandbox: SandboxProcess) -> None:
    async with _client(bridge, "/agents/support/chatgpt/mcp") as client:
        found = _one_json_text(await client.call_tool("search", {"query": QUESTION}))
        sandbox.reset_stats()
        for result in found["results"]:
            _one_json_text(await client.call_tool("fetch", {"id": result["id"]}))
    assert sandbox.stats()["paths"] == {}


async def test_bad_ids_and_tools_are_one_clear_sentence(bridge: BridgeProcess) -> None:
    async with _client(bridge, "/agents/support/chatgpt/mcp") as client:
        unknown = await client.call_tool("fetch", {"id": 'ans_"}{not-json'})
        too_long = await client.call_tool("fetch", {"id": "x" * 500})
        empty = await client.call_tool("search", {"query": ""})
        with pytest.raises(MCPError, match="Available tools: search, fetch"):
            await client.call_tool("ask", {"question": QUESTION})
    assert "Search again" in _error_text(unknown) and "no document" in _error_text(unknown)
    assert "Invalid arguments for 'fetch'" in _error_text(too_long)
    assert "Invalid arguments for 'search'" in _error_text(empty)
