"""The operations registry as clients see it, against a real bridge and sandbox: resources follow the
same scope as the tools that show their data, backends offer only what they state they can do, the
citation search never shares a conversation, cited sources that fail for a reason other than 404
surface, and resource reads have the same deadline as tool calls."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from mcp_server.backends.customgpt import CustomGPTBackend
from mcp_server.backends.openai import OpenAIBackend
from mcp_server.config_loading import parse_config
from mcp_server.errors import ConfigError
from mcp_server.operations import RESOURCES, TOOLS, tools_for, unimplemented
from tests.support.bridge_http import BridgeProcess, running_bridge
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

TOKENS = {"ask-only": "tok-ask-only-1a2b3c", "everything": "tok-everything-4d5e6f"}


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    lines = [
        "[server]",
        "call_deadline_seconds = 3",
        "[backends.customgpt]",
        'api_key = "sandbox-key"',
        f'base_url = "{sandbox_session.url}"',
        "[backends.compat]",
        'kind = "openai"',
        'api_key = "sandbox-key"',
        f'base_url = "{sandbox_session.url}/api/v1/projects/1"',
        "[[agents]]",
        'name = "support"',
        "project_id = 1",
        "[[agents]]",
        'name = "narrow"',
        "project_id = 1",
        'tools = ["ask"]',
        "[[agents]]",
        'name = "gpt"',
        'backend = "compat"',
        'model = "gpt-4o"',
    ]
    for name, token in TOKENS.items():
        lines += ["[[tokens]]", f'name = "{name}"', f'sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"']
        lines.append('tools = ["ask"]' if name == "ask-only" else 'tools = ["*"]')
    config = tmp_path_factory.mktemp("registry") / "bridge.toml"
    config.write_text("\n".join(lines) + "\n")
    with running_bridge(config) as process:
        yield process


@asynccontextmanager
async def _client(bridge: BridgeProcess, path: str, token: str) -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKENS[token]}"}, timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}{path}", http_client=http)) as client,
    ):
        yield client


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


# -- the registry on its own --------------------------------------------------------------------------


def test_every_backend_implements_what_it_states() -> None:
    assert unimplemented(CustomGPTBackend) == []
    assert unimplemented(OpenAIBackend) == []
    assert not hasattr(OpenAIBackend, "list_sources")  # no stubs for what it cannot serve
    assert tools_for(CustomGPTBackend.CAPABILITIES) == ("ask", "search_citations", "list_sources")
    assert tools_for(OpenAIBackend.CAPABILITIES) == ("ask",)
    assert {r.name for r in RESOURCES} == {"settings", "sources", "pages", "conversation", "citation"}
    assert all(op.args.model_json_schema()["type"] == "object" for op in TOOLS.values())


def test_the_configuration_derives_tool_names_from_the_registry() -> None:
    backend = {"kind": "openai", "api_key": "k", "base_url": "http://127.0.0.1:1"}
    with pytest.raises(ConfigError, match=r"agents\[0\]\.tools: list_sources not available on the openai backend"):
        parse_config(
            {
                "backends": {"b": backend},
                "agents": [{"name": "a", "backend": "b", "model": "m", "tools": ["list_sources"]}],
            },
            source="t",
        )
    with pytest.raises(ConfigError, match=r"agents\[0\]\.tools: unknown tool summarise"):
        parse_config(
            {
                "backends": {"b": backend},
                "agents": [{"name": "a", "backend": "b", "model": "m", "tools": ["summarise"]}],
            },
            source="t",
        )
    with pytest.raises(ConfigError, match=r"backends\.b\.kind"):
        parse_config({"backends": {"b": {**backend, "kind": "mystery"}}}, source="t")


# -- resources follow the tools' scope ------------------------------------------------------------------


async def test_resources_follow_the_scope_of_the_tools_that_show_the_same_data(bridge: BridgeProcess) -> None:
    async with _client(bridge, "/agents/support/mcp", "ask-only") as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.name for t in (await client.list_resource_templates()).resource_templates}
        for uri in ("agent://support/sources", "agent://support/pages", "agent://support/pages?page=2"):
            with pytest.raises(MCPError, match="Resource not found"):
                await client.read_resource(uri)
        asked = await client.call_tool("ask", {"question": "How long are backups kept?"})
        assert isinstance(asked.structured_content, dict), _text(asked)
        transcript = await client.read_resource(
            f"agent://support/conversations/{asked.structured_content['conversation_id']}"
        )
    async with _client(bridge, "/agents/narrow/mcp", "everything") as client:
        narrow = {str(r.uri) for r in (await client.list_resources()).resources}
        with pytest.raises(MCPError, match="Resource not found"):
            await client.read_resource("agent://narrow/pages")
    async with _client(bridge, "/agents/gpt/mcp", "everything") as client:
        gpt_templates = {t.name for t in (await client.list_resource_templates()).resource_templates}
        with pytest.raises(MCPError, match="Resource not found"):
            await client.read_resource("agent://gpt/citations/1001")
    assert listed == {"agent://support/settings"}
    assert "sources" not in templates and "conversation" in templates
    assert transcript.contents
    assert narrow == {"agent://narrow/settings"}  # an agent configured with fewer tools
    assert gpt_templates == {"settings", "conversation"}  # what an OpenAI-compatible backend can serve


# -- the citation search never shares a conversation -----------------------------------------------------


async def test_each_citation_search_has_its_own_conversation(bridge: BridgeProcess, sandbox: SandboxProcess) -> None:
    before = sandbox.stats()["requests"].get("/api/v1/projects/{project_id}/conversations", 0)
    async with _client(bridge, "/agents/support/mcp", "everything") as client:
        results: list[types.CallToolResult] = []

        async def search(query: str) -> None:
            results.append(await client.call_tool("search_citations", {"query": query}))

        async with anyio.create_task_group() as tg:
            for query in ("backup retention", "restore a file", "encryption at rest"):
                tg.start_soon(search, query)
    after = sandbox.stats()["requests"].get("/api/v1/projects/{project_id}/conversations", 0)
    assert all(not r.is_error for r in results), [_text(r) for r in results]
    assert after - before == 3  # one new conversation each, none shared, no race over a shared one


# -- a cited source that fails for another reason than 404 surfaces ------------------------------------


async def test_a_rate_limited_citation_lookup_is_reported(bridge: BridgeProcess, sandbox: SandboxProcess) -> None:
    sandbox.arm_fault("rate-limit", count=-1, path="/citations/")
    async with _client(bridge, "/agents/support/mcp", "everything") as client:
        limited = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
    sandbox.clear_faults()
    assert limited.is_error and "rate-limiting" in _text(limited)


# -- resource reads have a deadline ---------------------------------------------------------------------


async def test_a_resource_read_ends_at_the_call_deadline(bridge: BridgeProcess, sandbox: SandboxProcess) -> None:
    sandbox.arm_fault("hang", count=1, path="/settings$")
    async with _client(bridge, "/agents/support/mcp", "everything") as client:
        with anyio.fail_after(20), pytest.raises(MCPError, match="3 second call deadline"):
            await client.read_resource("agent://support/settings")
