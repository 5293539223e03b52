"""`agent-bridge stdio` end to end: the MCP Python SDK client spawns the bridge, which forwards every
call to a running sandbox upstream. No mocks: both are real processes on loopback."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
import pytest
from mcp import MCPError

from tests.support.bridge_stdio import env_mode, stdio_bridge
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def _resource_json(result: types.ReadResourceResult) -> Any:
    content = result.contents[0]
    assert isinstance(content, types.TextResourceContents)
    assert content.mime_type == "application/json"
    return json.loads(content.text)


async def test_single_agent_tools_are_named_and_described(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"ask", "search_citations", "list_sources"}
    for tool in tools.values():
        assert tool.title
        assert tool.description and "knowledge base" in tool.description
        assert tool.output_schema is not None
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.open_world_hint is True
    assert tools["ask"].input_schema["required"] == ["question"]
    assert "conversation_id" in tools["ask"].input_schema["properties"]
    # The agent's name and title came from the upstream project (zero-config mode).
    assert "Northwind" in (tools["ask"].title or "")


async def test_ask_new_and_continued_conversation(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        first = await client.call_tool("ask", {"question": QUESTION})
        assert not first.is_error, _text(first)
        data = first.structured_content
        assert isinstance(data, dict)
        assert data["answer"]
        assert data["citations"], "the demo corpus answers this question, so it must cite a source"
        assert all(c["url"] and c["title"] for c in data["citations"])
        conversation = data["conversation_id"]
        assert conversation in _text(first)

        follow_up = await client.call_tool(
            "ask", {"question": "What about the Business plan retention?", "conversation_id": conversation}
        )
        assert not follow_up.is_error, _text(follow_up)
        assert isinstance(follow_up.structured_content, dict)
        assert follow_up.structured_content["conversation_id"] == conversation

        transcript = _resource_json(
            await client.read_resource(f"agent://northwind-support/conversations/{conversation}")
        )
    assert [m["question"] for m in transcript["messages"]] == [QUESTION, "What about the Business plan retention?"]


async def test_search_citations_and_list_sources(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        found = await client.call_tool("search_citations", {"query": "restore deleted files", "limit": 2})
        listing = await client.call_tool("list_sources", {})
    assert not found.is_error, _text(found)
    assert isinstance(found.structured_content, dict)
    citations = found.structured_content["citations"]
    assert 1 <= len(citations) <= 2
    assert all(c["url"].startswith("http") for c in citations)

    assert not listing.is_error, _text(listing)
    assert isinstance(listing.structured_content, dict)
    assert listing.structured_content["sources"]
    pages = listing.structured_content["pages"]
    assert pages and all(p["index_status"] and p["crawl_status"] for p in pages)
    assert listing.structured_content["page"] == 1
    # the count of documents is named for what it counts, beside the listing's own page numbers
    assert (
        listing.structured_content["total_documents"] >= len(pages) and "total_pages" not in listing.structured_content
    )
    assert all(p["title"].endswith(".md") for p in pages)  # the sandbox's pages are files: their file names
    assert "null" not in _text(listing) and "None" not in _text(listing)


async def test_resources_list_templates_and_read(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        settings = _resource_json(await client.read_resource("agent://northwind-support/settings"))
        sources = _resource_json(await client.read_resource("agent://northwind-support/sources"))
        pages = _resource_json(await client.read_resource("agent://northwind-support/pages?page=1"))
        answer = await client.call_tool("ask", {"question": QUESTION})
        assert isinstance(answer.structured_content, dict)
        cited = answer.structured_content["citations"][0]
        citation = _resource_json(await client.read_resource(f"agent://northwind-support/citations/{cited['id']}"))
        with pytest.raises(MCPError, match="Resource not found"):
            await client.read_resource("agent://someone-else/settings")
        with pytest.raises(MCPError, match="not found upstream"):
            await client.read_resource("agent://northwind-support/citations/999999")

    assert resources == {
        "agent://northwind-support/settings",
        "agent://northwind-support/sources",
        "agent://northwind-support/pages",
    }
    assert templates == {
        "agent://{agent}/settings",
        "agent://{agent}/sources",
        "agent://{agent}/pages{?page}",
        "agent://{agent}/conversations/{conversation_id}",
        "agent://{agent}/citations/{citation_id}",
    }
    assert isinstance(settings, dict) and settings
    assert sources["items"]
    assert pages["items"] and pages["page"] == 1
    assert citation["url"] == cited["url"]


async def test_bad_arguments_and_unknown_tools(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        missing = await client.call_tool("ask", {})
        extra = await client.call_tool("ask", {"question": "hi", "temperature": 2})
        wrong_type = await client.call_tool("search_citations", {"query": "x", "limit": "many"})
        out_of_range = await client.call_tool("list_sources", {"page": 0})
        with pytest.raises(MCPError, match=r"Unknown tool: 'delete_everything'\. Available tools: ask"):
            await client.call_tool("delete_everything", {})
        still_fine = await client.call_tool("list_sources", {})
    assert missing.is_error and "Invalid arguments for 'ask': question: Field required" in _text(missing)
    assert extra.is_error and "temperature: unknown argument" in _text(extra)
    assert wrong_type.is_error and "limit:" in _text(wrong_type)
    assert out_of_range.is_error and "page:" in _text(out_of_range)
    assert not still_fine.is_error


async def test_multi_agent_names_are_prefixed(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url, project_ids="1,2")) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("northwind-support_ask", {"question": QUESTION})
    assert "northwind-support_ask" in names
    assert "northwind-support_list_sources" in names
    assert len(names) == 6, names
    assert not result.is_error, _text(result)


async def test_wrong_upstream_key_is_a_readable_tool_error(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url, api_key="not-the-key-12345")) as client:
        result = await client.call_tool("ask", {"question": QUESTION})
    assert result.is_error
    text = _text(result)
    assert "refused the API key (HTTP 401" in text
    assert "api_key" in text and "not-the-key" not in text
    assert "not-the-key-12345" not in text


async def test_cited_sources_are_fetched_once_then_remembered(sandbox: SandboxProcess) -> None:
    """The second answer citing the same sources costs the message alone: no GET per citation again."""
    question = {"question": "How do I restore deleted files?"}
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        first = await client.call_tool("ask", question)
        sandbox.reset_stats()
        second = await client.call_tool("ask", question)
        paths = sandbox.stats()["paths"]
    assert not first.is_error and not second.is_error
    assert isinstance(first.structured_content, dict) and isinstance(second.structured_content, dict)
    cited = first.structured_content["citations"]
    assert cited and second.structured_content["citations"] == cited  # the same sources, titles and URLs
    assert not [p for p in paths if "/citations/" in p], paths
    assert [p for p in paths if p.endswith("/messages") or "/messages?" in p], paths  # the question itself went
