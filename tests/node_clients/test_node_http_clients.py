"""Real Node clients against `agent-bridge serve` on loopback: the TypeScript SDK over Streamable HTTP and
HTTP+SSE (header, X-API-Key and ?token= credentials, as Cursor, n8n and Claude send them), the MCP
Inspector CLI, and supergateway and mcp-remote as stdio bridges driven by the Python SDK client (how
Claude Desktop reaches a URL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.support.bridge_http import TOKENS, BridgeProcess
from tests.support.node import NODE, NODE_MARKS, bin_path, node_env, run_inspector, run_ts_client

pytestmark = NODE_MARKS

QUESTION = "How long are backups kept on the Pro plan?"
TOOLS = ["ask", "search_citations", "list_sources"]
TOKEN = TOKENS["all"][0]
HR_ASK_TOKEN = TOKENS["hr-ask"][0]


def _ask(progress: bool = True) -> dict[str, Any]:
    return {"op": "callTool", "name": "ask", "arguments": {"question": QUESTION}, "progress": progress}


def _check_answer(call: dict[str, Any], *, streamed: bool) -> None:
    assert "error" not in call, call
    result = call["result"]
    assert not result.get("isError"), result
    structured = result["structuredContent"]
    assert "90 days" in structured["answer"]
    assert structured["citations"]
    assert structured["conversation_id"]
    assert "90 days" in result["content"][0]["text"]  # the readable twin
    if streamed:
        pieces = [p["message"] for p in call["progress"] if p["message"]]
        assert len(pieces) > 1
        assert "".join(pieces) == structured["answer"]


@pytest.mark.parametrize(
    ("transport", "path"),
    [("http", "/agents/support/mcp"), ("sse", "/agents/support/sse"), ("sse", "/projects/1/sse")],
)
def test_typescript_sdk_with_a_bearer_header(
    node_bridge: BridgeProcess, tmp_path: Path, transport: str, path: str
) -> None:
    spec = {
        "transport": transport,
        "url": node_bridge.url + path,
        "headers": node_bridge.auth(),
        "ops": [{"op": "ping"}, {"op": "listTools"}, _ask()],
    }
    pong, listed, asked = run_ts_client(spec, tmp_path)
    assert pong == {"pong": {}}
    assert listed["tools"] == TOOLS
    _check_answer(asked, streamed=True)


@pytest.mark.parametrize(("transport", "path"), [("http", "/agents/support/mcp"), ("sse", "/agents/support/sse")])
def test_typescript_sdk_with_a_token_in_the_url(
    node_bridge: BridgeProcess, tmp_path: Path, transport: str, path: str
) -> None:
    """Cursor, Windsurf and n8n style: `?token=` and no header at all (SSE message POSTs carry none)."""
    spec = {
        "transport": transport,
        "url": f"{node_bridge.url}{path}?token={TOKEN}",
        "ops": [{"op": "listTools"}, _ask()],
    }
    listed, asked = run_ts_client(spec, tmp_path)
    assert listed["tools"] == TOOLS
    _check_answer(asked, streamed=True)


def test_typescript_sdk_all_agents_with_x_api_key(node_bridge: BridgeProcess, tmp_path: Path) -> None:
    spec = {
        "transport": "http",
        "url": f"{node_bridge.url}/mcp",
        "headers": {"X-API-Key": TOKEN},
        "ops": [
            {"op": "listTools"},
            {
                "op": "callTool",
                "name": "hr_ask",
                "arguments": {"question": "How many days of paid leave do employees get?"},
            },
            {"op": "listResources"},
            {"op": "readResource", "uri": "agent://support/settings"},
        ],
    }
    listed, hr, resources, settings = run_ts_client(spec, tmp_path)
    assert sorted(listed["tools"]) == sorted(f"{agent}_{tool}" for agent in ("support", "hr") for tool in TOOLS)
    assert "error" not in hr, hr
    assert "25 days" in hr["result"]["structuredContent"]["answer"]
    assert {"agent://support/settings", "agent://hr/settings"} <= {r["uri"] for r in resources["resources"]}
    assert json.loads(settings["resource"]["contents"][0]["text"])


def test_typescript_sdk_sees_what_the_server_refuses(node_bridge: BridgeProcess, tmp_path: Path) -> None:
    """What a TS-SDK client (Cursor, n8n) shows its user for a missing token, a token scoped to another
    agent, an unknown agent, and a tool outside the token's scope."""
    url = node_bridge.url
    no_token = {"transport": "http", "url": f"{url}/mcp", "ops": [{"op": "listTools"}]}
    other_agent_http = {
        "transport": "http",
        "url": f"{url}/agents/support/mcp",
        "headers": {"Authorization": f"Bearer {HR_ASK_TOKEN}"},
        "ops": [{"op": "listTools"}],
    }
    other_agent_sse = {**other_agent_http, "transport": "sse", "url": f"{url}/agents/support/sse"}
    unknown_agent = {**other_agent_http, "url": f"{url}/agents/nobody/mcp", "headers": node_bridge.auth()}
    scoped = {
        "transport": "http",
        "url": f"{url}/agents/hr/mcp",
        "headers": {"Authorization": f"Bearer {HR_ASK_TOKEN}"},
        "ops": [{"op": "listTools"}, {"op": "callTool", "name": "list_sources", "arguments": {}}],
    }
    assert "A token is required" in run_ts_client(no_token, tmp_path)[0]["error"]
    # An agent outside the token's scope is refused as if it did not exist (no probing for names).
    assert (
        "No agent by that name for this token. Agents you may use: hr."
        in (run_ts_client(other_agent_http, tmp_path)[0]["error"])
    )
    # Over SSE the SDK reports only the status, not the JSON body that explains it.
    assert run_ts_client(other_agent_sse, tmp_path)[0]["error"] == "SSE error: Non-200 status code (404)"
    assert "Agents you may use: support, hr" in run_ts_client(unknown_agent, tmp_path)[0]["error"]
    listed, refused = run_ts_client(scoped, tmp_path)
    assert listed["tools"] == ["ask"]
    assert "Unknown tool: 'list_sources'" in refused["error"]


@pytest.mark.parametrize(("transport", "path"), [("http", "/agents/support/mcp"), ("sse", "/agents/support/sse")])
def test_inspector_cli_lists_calls_and_reads(
    node_bridge: BridgeProcess, tmp_path: Path, transport: str, path: str
) -> None:
    base = [node_bridge.url + path, "--transport", transport, "--header", f"Authorization: Bearer {TOKEN}"]
    listed = run_inspector([*base, "--method", "tools/list"], tmp_path)
    assert [t["name"] for t in listed.result["tools"]] == TOOLS

    args = json.dumps({"question": QUESTION})
    called = run_inspector([*base, "--method", "tools/call", "--tool-name", "ask", "--tool-args-json", args], tmp_path)
    structured = called.result["structuredContent"]
    assert "90 days" in structured["answer"]
    assert structured["citations"]

    cited = run_inspector(
        [
            *base,
            "--method",
            "tools/call",
            "--tool-name",
            "search_citations",
            "--tool-args-json",
            json.dumps({"query": "backup retention on the Pro plan", "limit": 3}),
        ],
        tmp_path,
    )
    citations = cited.result["structuredContent"]["citations"]
    assert 1 <= len(citations) <= 3
    assert any("Plans and pricing" in str(c.get("title")) for c in citations), citations

    read = run_inspector([*base, "--method", "resources/read", "--uri", "agent://support/settings"], tmp_path)
    assert json.loads(read.result["contents"][0]["text"])


def test_inspector_cli_reports_a_bad_token(node_bridge: BridgeProcess, tmp_path: Path) -> None:
    refused = run_inspector(
        [
            f"{node_bridge.url}/mcp",
            "--transport",
            "http",
            "--header",
            "Authorization: Bearer wrong",
            "--stored-auth-only",  # never start an interactive OAuth login
            "--method",
            "tools/list",
        ],
        tmp_path,
    )
    # The Inspector reads our 401 + WWW-Authenticate as "this server needs auth" and stops.
    assert refused.returncode != 0
    assert refused.payload["error"]["code"] == "auth_required", refused


def _stdio_bridge(tool: str, args: list[str], home: Path) -> StdioServerParameters:
    return StdioServerParameters(command=str(NODE), args=[str(bin_path(tool)), *args], env=node_env(home))


STDIO_BRIDGES = {
    "supergateway-sse": ("supergateway", ["--sse", "{url}/agents/support/sse", "--oauth2Bearer", TOKEN]),
    "supergateway-http": (
        "supergateway",
        ["--streamableHttp", "{url}/agents/support/mcp", "--header", f"Authorization: Bearer {TOKEN}"],
    ),
    "supergateway-sse-url-token": ("supergateway", ["--sse", f"{{url}}/agents/support/sse?token={TOKEN}"]),
    "mcp-remote-sse": (
        "mcp-remote",
        ["{url}/agents/support/sse", "--transport", "sse-only", "--header", f"Authorization:Bearer {TOKEN}"],
    ),
    "mcp-remote-http": (
        "mcp-remote",
        ["{url}/agents/support/mcp", "--transport", "http-only", "--header", f"Authorization:Bearer {TOKEN}"],
    ),
    "mcp-remote-sse-url-token": (
        "mcp-remote",
        [f"{{url}}/agents/support/sse?token={TOKEN}", "--transport", "sse-only"],
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("bridge_name", list(STDIO_BRIDGES))
async def test_stdio_bridges_reach_the_server(node_bridge: BridgeProcess, tmp_path: Path, bridge_name: str) -> None:
    tool, args = STDIO_BRIDGES[bridge_name]
    params = _stdio_bridge(tool, [a.format(url=node_bridge.url) for a in args], tmp_path)
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message:
            pieces.append(message)

    # Legacy mode: the initialize handshake Claude Desktop uses.
    with anyio.fail_after(90):
        async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            result = await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)
            resources = (await client.list_resources()).resources

    assert names == TOOLS
    assert not result.is_error
    assert isinstance(result.structured_content, dict)
    answer = result.structured_content["answer"]
    assert "90 days" in answer
    assert result.structured_content["citations"]
    assert "agent://support/settings" in {str(r.uri) for r in resources}
    if tool == "mcp-remote":
        assert "".join(pieces) == answer  # mcp-remote relays the streamed answer
    else:
        assert pieces == []  # supergateway drops progress notifications: the answer arrives whole
