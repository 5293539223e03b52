"""The real Node MCP clients against real bridge processes: the TypeScript SDK (stdio, Streamable HTTP,
SSE), the MCP Inspector CLI, supergateway and mcp-remote as stdio bridges, and the conformance suite."""

from __future__ import annotations

import json
import sys
from collections.abc import Generator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.node import NODE, bin_path, node_env, requires_node, run_tool, run_ts_client
from tests.support.sandbox_process import SandboxProcess

pytestmark = [requires_node, pytest.mark.node]

QUESTION = "How long are backups kept on the Pro plan?"
TOKEN = TOKENS["all"][0]


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("node") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


@pytest.fixture(scope="module")
def open_bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    """A loopback bridge with no tokens, for the conformance suite (it cannot send auth headers)."""
    config = write_http_config(tmp_path_factory.mktemp("open") / "bridge.toml", sandbox_session.url, tokens=False)
    with running_bridge(config) as process:
        yield process


def _ask_ops() -> list[dict[str, object]]:
    return [
        {"op": "listTools"},
        {"op": "callTool", "name": "ask", "arguments": {"question": QUESTION}, "progress": True},
    ]


def _check_ask(results: list[dict[str, object]]) -> None:
    assert results[0] == {"tools": ["ask", "search_citations", "list_sources"]}, results
    call = results[1]
    assert "error" not in call, call
    result = call["result"]
    assert isinstance(result, dict)
    structured = result["structuredContent"]
    assert "90 days" in structured["answer"]
    assert structured["citations"]
    assert structured["conversation_id"]


def test_typescript_sdk_over_stdio(sandbox: SandboxProcess, tmp_path: Path) -> None:
    spec = {
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-m", "mcp_server", "stdio"],
        "env": {"CUSTOMGPT_BASE_URL": sandbox.url, "CUSTOMGPT_API_KEY": "sandbox-key", "CUSTOMGPT_PROJECT_IDS": "1"},
        "ops": _ask_ops(),
    }
    _check_ask(run_ts_client(spec, tmp_path))


@pytest.mark.parametrize(("transport", "path"), [("http", "/agents/support/mcp"), ("sse", "/agents/support/sse")])
def test_typescript_sdk_over_http(bridge: BridgeProcess, tmp_path: Path, transport: str, path: str) -> None:
    spec = {"transport": transport, "url": bridge.url + path, "headers": bridge.auth(), "ops": _ask_ops()}
    results = run_ts_client(spec, tmp_path)
    _check_ask(results)
    progress = results[1]["progress"]
    assert isinstance(progress, list)
    assert (
        "".join(str(p["message"]) for p in progress if p["message"])
        == results[1]["result"]["structuredContent"][  # type: ignore[index]
            "answer"
        ]
    )


@pytest.mark.parametrize(("transport", "path"), [("http", "/agents/support/mcp"), ("sse", "/agents/support/sse")])
def test_inspector_cli_lists_and_calls(bridge: BridgeProcess, tmp_path: Path, transport: str, path: str) -> None:
    base = [
        bridge.url + path,
        "--transport",
        transport,
        "--format",
        "json",
        "--header",
        f"Authorization: Bearer {TOKEN}",
    ]
    listed = run_tool("inspector", ["--cli", *base, "--method", "tools/list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = (
        [t["name"] for t in json.loads(listed.stdout)["result"]["tools"]]
        if "result" in listed.stdout
        else [t["name"] for t in json.loads(listed.stdout)["tools"]]
    )
    assert names == ["ask", "search_citations", "list_sources"]
    args = json.dumps({"question": QUESTION})
    called = run_tool(
        "inspector",
        ["--cli", *base, "--method", "tools/call", "--tool-name", "ask", "--tool-args-json", args],
        tmp_path,
    )
    assert called.returncode == 0, called.stderr
    assert "90 days" in called.stdout


def test_inspector_cli_reports_a_bad_token(bridge: BridgeProcess, tmp_path: Path) -> None:
    refused = run_tool(
        "inspector",
        [
            "--cli",
            f"{bridge.url}/mcp",
            "--transport",
            "http",
            "--header",
            "Authorization: Bearer wrong",
            "--method",
            "tools/list",
        ],
        tmp_path,
    )
    # The Inspector reads our 401 + WWW-Authenticate as "this server needs auth" and stops.
    assert refused.returncode != 0
    assert '"auth_required"' in refused.stdout + refused.stderr


def _bridge_params(tool: str, args: list[str], home: Path) -> StdioServerParameters:
    return StdioServerParameters(command=str(NODE), args=[str(bin_path(tool)), *args], env=node_env(home))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("supergateway", ["--sse", "{url}/agents/support/sse", "--oauth2Bearer", TOKEN]),
        (
            "supergateway",
            ["--streamableHttp", "{url}/agents/support/mcp", "--header", f"Authorization: Bearer {TOKEN}"],
        ),
        (
            "mcp-remote",
            ["{url}/agents/support/sse", "--transport", "sse-only", "--header", f"Authorization:Bearer {TOKEN}"],
        ),
        (
            "mcp-remote",
            ["{url}/agents/support/mcp", "--transport", "http-only", "--header", f"Authorization:Bearer {TOKEN}"],
        ),
    ],
    ids=["supergateway-sse", "supergateway-http", "mcp-remote-sse", "mcp-remote-http"],
)
async def test_stdio_bridges_reach_the_server(
    bridge: BridgeProcess, tmp_path: Path, tool: str, args: list[str]
) -> None:
    params = _bridge_params(tool, [a.format(url=bridge.url) for a in args], tmp_path)
    async with Client(params, mode="legacy") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("ask", {"question": QUESTION})
    assert names == ["ask", "search_citations", "list_sources"]
    assert not result.is_error
    assert isinstance(result.structured_content, dict)
    assert "90 days" in result.structured_content["answer"]


@pytest.mark.parametrize("scenario", ["server-initialize", "tools-list", "ping", "dns-rebinding-protection"])
def test_conformance_scenarios(open_bridge: BridgeProcess, tmp_path: Path, scenario: str) -> None:
    done = run_tool("conformance", ["server", "--url", f"{open_bridge.url}/mcp", "--scenario", scenario], tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert " 0 failed" in output, output
