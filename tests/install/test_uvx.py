"""`uvx --from <checkout> agent-bridge stdio`, exactly as the Claude Desktop snippet from `agent-bridge connect`
says, with `uv` from PyPI: no virtual environment to manage; a real MCP client asks the sandbox's agent."""

from __future__ import annotations

import json

import pytest
from mcp import Client, StdioServerParameters

from mcp_server.client_snippets import snippets
from mcp_server.snippet_targets import local
from tests.support.sandbox_process import SandboxProcess
from tests.support.uv import CHECKOUT, requires_uv, uv_env

pytestmark = [requires_uv, pytest.mark.anyio]


async def test_uvx_from_the_checkout_serves_stdio_as_the_claude_desktop_snippet_says(sandbox: SandboxProcess) -> None:
    settings = {"CUSTOMGPT_PROJECT_IDS": "1", "CUSTOMGPT_BASE_URL": sandbox.url}
    uvx_snippet = next(s for s in snippets("claude-desktop", local(None, settings)) if "with uv" in s.title)
    entry = json.loads(uvx_snippet.text)["mcpServers"]["agent-bridge"]
    assert entry["command"] == "uvx"
    assert entry["args"] == ["--from", str(CHECKOUT), "agent-bridge", "stdio"]
    assert entry["env"]["CUSTOMGPT_API_KEY"] == "<your CustomGPT API key>"
    env = {**entry["env"], "CUSTOMGPT_API_KEY": sandbox.api_key}  # what the user fills in
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=uv_env(env))
    async with Client(params, mode="legacy") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
    assert names == ["ask", "search_citations", "list_sources"]
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    assert "90 days" in result.structured_content["answer"]
