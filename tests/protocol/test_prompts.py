"""Prompts, completion and resource links through the MCP Python SDK client, over stdio (one agent,
zero-config mode) and Streamable HTTP (two agents, tokens with different scopes), against the sandbox."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import BridgeProcess
from tests.support.bridge_stdio import env_mode, stdio_bridge
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"
AGENT = "northwind-support"  # the sandbox's project 1, named from the upstream in zero-config mode


@asynccontextmanager
async def http_client(bridge: BridgeProcess, path: str, token: str = "all") -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers=bridge.auth(token), timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}{path}", http_client=http)) as client,
    ):
        yield client


def _hits(sandbox: SandboxProcess, fragment: str) -> int:
    """How many requests the sandbox received on paths containing `fragment` since its stats were reset."""
    paths: dict[str, int] = sandbox.stats()["paths"]
    return sum(count for path, count in paths.items() if fragment in path)


def _links(blocks: list[types.ContentBlock]) -> list[types.ResourceLink]:
    return [b for b in blocks if isinstance(b, types.ResourceLink)]


async def test_stdio_lists_prompts_with_arguments(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) == {"ask", "source"}
    ask = prompts["ask"]
    assert ask.title and "Northwind" in ask.title
    assert ask.description and "one upstream query" in ask.description
    assert [(a.name, a.required) for a in ask.arguments or []] == [("question", True)]
    assert [(a.name, a.required) for a in prompts["source"].arguments or []] == [("source", True)]


async def test_stdio_ask_prompt_returns_question_answer_and_citation_links(sandbox: SandboxProcess) -> None:
    sandbox.reset_stats()
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        result = await client.get_prompt("ask", {"question": QUESTION})
    roles = [m.role for m in result.messages]
    assert roles[:2] == ["user", "assistant"]
    first, answer = result.messages[0].content, result.messages[1].content
    assert isinstance(first, types.TextContent) and QUESTION in first.text
    assert isinstance(answer, types.TextContent) and "conversation_id" in answer.text
    links = _links([m.content for m in result.messages])
    assert links, "the demo corpus answers this question with sources"
    for link in links:
        assert link.uri.startswith(f"agent://{AGENT}/citations/")
        assert link.title and link.mime_type == "application/json"
    assert _hits(sandbox, "/messages") == 1  # the prompt spent exactly one upstream query


async def test_stdio_source_prompt_completes_and_links_pages(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        listing = await client.call_tool("list_sources", {})
        assert isinstance(listing.structured_content, dict)
        title = next(p["title"] for p in listing.structured_content["pages"] if p["title"])  # an upload's file name
        sandbox.reset_stats()
        ref = types.PromptReference(name="source")
        typed = title[:3].lower()
        first = await client.complete(ref, {"name": "source", "value": typed})
        again = await client.complete(ref, {"name": "source", "value": title[:4]})
        asked_while_completing = _hits(sandbox, "/messages")
        got = await client.get_prompt("source", {"source": title})
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("source", {"source": "no document is called this"})
    assert title in first.completion.values
    assert all(typed in v.lower() for v in first.completion.values)
    assert len(first.completion.values) <= 100
    assert title in again.completion.values
    assert asked_while_completing == 0, "completion must never ask the agent"
    links = _links([m.content for m in got.messages])
    assert links and all(link.title == title for link in links)
    assert all(link.uri.startswith("http") for link in links)
    assert missing.value.error.code == types.INVALID_PARAMS
    assert "list_sources" in missing.value.error.message


async def test_stdio_completion_reads_the_listing_once(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        sandbox.reset_stats()
        for typed in ("a", "b", "c", "d"):
            await client.complete(types.PromptReference(name="source"), {"name": "source", "value": typed})
        pages = types.ResourceTemplateReference(uri="agent://{agent}/pages{?page}")
        numbers = await client.complete(pages, {"name": "page", "value": "1"})
        agents = await client.complete(pages, {"name": "agent", "value": "north"})
        conversation = await client.complete(
            types.ResourceTemplateReference(uri="agent://{agent}/conversations/{conversation_id}"),
            {"name": "conversation_id", "value": ""},
        )
        listings = _hits(sandbox, "/pages")
    assert listings == 1  # four keystrokes and a page completion: one read of the listing
    assert numbers.completion.values[0] == "1"
    assert agents.completion.values == [AGENT]
    assert conversation.completion.values == []  # never completed: the bridge keeps no list of them


async def test_tool_results_carry_citation_links(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        asked = await client.call_tool("ask", {"question": QUESTION})
        found = await client.call_tool("search_citations", {"query": "restore deleted files", "limit": 2})
        for result in (asked, found):
            assert not result.is_error
            assert isinstance(result.structured_content, dict)
            cited = [c["id"] for c in result.structured_content["citations"]]
            links = _links(result.content)
            assert cited and [link.uri for link in links] == [f"agent://{AGENT}/citations/{c}" for c in cited]
            assert isinstance(result.content[0], types.TextContent)
        opened = await client.read_resource(_links(found.content)[0].uri)
    assert opened.contents


async def test_http_prompts_are_prefixed_and_follow_token_scopes(bridge: BridgeProcess) -> None:
    async with http_client(bridge, "/mcp") as client:
        everything = {p.name for p in (await client.list_prompts()).prompts}
    async with http_client(bridge, "/mcp", token="hr-ask") as client:
        hr_only = {p.name for p in (await client.list_prompts()).prompts}
        with pytest.raises(MCPError) as refused:
            await client.get_prompt("source", {"source": "expenses.md"})
        with pytest.raises(MCPError) as hidden:
            await client.complete(types.PromptReference(name="source"), {"name": "source", "value": ""})
    async with http_client(bridge, "/agents/support/mcp") as client:
        single = {p.name for p in (await client.list_prompts()).prompts}
    assert everything == {"support_ask", "support_source", "hr_ask", "hr_source"}
    assert hr_only == {"ask"}  # one agent (hr), and only its ask tool: only its ask prompt, named as its tool
    assert refused.value.error.code == types.INVALID_PARAMS
    assert hidden.value.error.code == types.INVALID_PARAMS  # no completion of a prompt the token lacks
    assert single == {"ask", "source"}


async def test_http_completes_sources_per_agent(bridge: BridgeProcess) -> None:
    async with http_client(bridge, "/mcp") as client:
        titles = await client.complete(types.PromptReference(name="hr_source"), {"name": "source", "value": "lea"})
        agents = await client.complete(
            types.ResourceTemplateReference(uri="agent://{agent}/pages{?page}"), {"name": "agent", "value": ""}
        )
        got = await client.get_prompt("hr_source", {"source": titles.completion.values[0]})
        with pytest.raises(MCPError) as bad:
            await client.get_prompt("hr_ask", {})
    assert titles.completion.values == ["leave-policy.md"]
    assert sorted(agents.completion.values) == ["hr", "support"]
    assert _links([m.content for m in got.messages])
    assert bad.value.error.code == types.INVALID_PARAMS and "question" in bad.value.error.message
