"""No probing: a token scoped to one agent gets the same status and body for an agent that exists but
is not its own as for one that does not exist, on every MCP endpoint and the Actions facade (the
bodies compared with the probed name, which the caller sent, taken out)."""

from __future__ import annotations

from collections.abc import Generator

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

HIDDEN, MISSING = ("hr", 2), ("nobody", 999)  # an agent the "support" token may not use, and no agent
JSONRPC_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    path = tmp_path_factory.mktemp("probing") / "bridge.toml"
    config = write_http_config(path, sandbox_session.url, extra_tables=("[actions]", "enabled = true"))
    with running_bridge(config) as process:
        yield process


def _answer(bridge: BridgeProcess, method: str, template: str, name: str, number: int) -> tuple[int, str]:
    url = bridge.url + template.format(agent=name, project=number)
    headers = {**JSONRPC_HEADERS, **bridge.auth("support")}
    body = INITIALIZE if url.endswith("/mcp") else {"question": "hello"} if url.endswith("/ask") else None
    response = httpx2.request(method, url, headers=headers, json=body, timeout=30)
    probed = name if "{agent}" in template else f"/{number}/"
    return response.status_code, response.text.replace(probed, "<probed>")


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("POST", "/agents/{agent}/mcp"),
        ("GET", "/agents/{agent}/sse"),
        ("POST", "/agents/{agent}/chatgpt/mcp"),
        ("POST", "/projects/{project}/mcp"),
        ("GET", "/projects/{project}/sse"),
        ("POST", "/actions/{agent}/ask"),
        ("GET", "/actions/{agent}/sources"),
        ("GET", "/actions/{agent}/citations?query=backups"),
        ("GET", "/actions/{agent}/answers/ans_0123456789abcdef"),
        ("GET", "/actions/{agent}/openapi.json"),  # public without a token; a token sees its own agents
    ],
)
def test_an_agent_out_of_scope_answers_like_one_that_does_not_exist(
    bridge: BridgeProcess, method: str, template: str
) -> None:
    hidden = _answer(bridge, method, template, *HIDDEN)
    missing = _answer(bridge, method, template, *MISSING)
    assert hidden == missing
    assert hidden[0] == 404, hidden


def test_the_combined_document_shows_a_token_only_its_own_agents(bridge: BridgeProcess) -> None:
    scoped = httpx2.get(f"{bridge.url}/actions/openapi.json", headers=bridge.auth("support"), timeout=30)
    assert "/actions/support/ask" in scoped.text and "/actions/hr/" not in scoped.text
    public = httpx2.get(f"{bridge.url}/actions/openapi.json", timeout=30)  # the GPT editor's import: no token
    assert "/actions/hr/ask" in public.text


async def test_tools_and_resources_of_an_agent_out_of_scope_are_unknown_like_missing_ones(
    bridge: BridgeProcess,
) -> None:
    async with (
        httpx2.AsyncClient(headers=bridge.auth("support"), timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}/mcp", http_client=http)) as client,
    ):
        answers: list[str] = []
        for name, _ in (HIDDEN, MISSING):
            with pytest.raises(MCPError) as tool:
                await client.call_tool(f"{name}_ask", {"question": "hello"})
            with pytest.raises(MCPError) as resource:
                await client.read_resource(f"agent://{name}/settings")
            answers.append(
                f"{tool.value.code} {tool.value} | {resource.value.code} {resource.value}".replace(name, "<n>")
            )
    assert answers[0] == answers[1], answers
