"""Prompts and completion through the TypeScript SDK client (what Cursor, Claude and n8n embed) over stdio
and Streamable HTTP, and the MCP Inspector CLI listing prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.bridge_http import BridgeProcess
from tests.support.node import (
    NODE_MARKS,
    run_inspector,
    run_ts_client_output,
    stdio_bridge_command,
    stdio_bridge_env,
)
from tests.support.sandbox_process import SandboxProcess

pytestmark = NODE_MARKS

QUESTION = "How long are backups kept on the Pro plan?"
OPS: list[dict[str, Any]] = [
    {"op": "listPrompts"},
    {
        "op": "complete",
        "ref": {"type": "ref/prompt", "name": "source"},
        "argument": {"name": "source", "value": "rest"},
    },
    {"op": "getPrompt", "name": "ask", "arguments": {"question": QUESTION}},
]


def _check(results: list[dict[str, Any]]) -> None:
    listed, completed, got = results
    assert [p["name"] for p in listed["prompts"]] == ["ask", "source"], listed
    values = completed["completion"]["values"]
    assert values and "restoring-files.md" in values and all("rest" in v.lower() for v in values), completed
    messages = got["prompt"]["messages"]
    assert messages[0]["role"] == "user" and QUESTION in messages[0]["content"]["text"]
    links = [m["content"] for m in messages if m["content"]["type"] == "resource_link"]
    assert links and all(link["uri"].startswith("agent://") and link["title"] for link in links)


def test_typescript_client_over_stdio(sandbox: SandboxProcess, tmp_path: Path) -> None:
    command = stdio_bridge_command()
    spec = {
        "transport": "stdio",
        "command": command[0],
        "args": command[1:],
        "env": {**stdio_bridge_env(sandbox.url), "PATH": "/usr/bin:/bin"},
        "ops": OPS,
    }
    _check(run_ts_client_output(spec, tmp_path)["results"])


def test_typescript_client_over_http(bridge: BridgeProcess, tmp_path: Path) -> None:
    spec = {"transport": "http", "url": f"{bridge.url}/agents/support/mcp", "headers": bridge.auth(), "ops": OPS}
    _check(run_ts_client_output(spec, tmp_path)["results"])


def test_inspector_cli_lists_prompts(bridge: BridgeProcess, sandbox: SandboxProcess, tmp_path: Path) -> None:
    token = bridge.auth()["Authorization"]
    over_http = run_inspector(
        [f"{bridge.url}/mcp", "--transport", "http", "--header", f"Authorization: {token}", "--method", "prompts/list"],
        tmp_path / "http",
    )
    env = [arg for key, value in stdio_bridge_env(sandbox.url).items() for arg in ("-e", f"{key}={value}")]
    over_stdio = run_inspector([*stdio_bridge_command(), *env, "--method", "prompts/list"], tmp_path / "stdio")
    assert [p["name"] for p in over_http.result["prompts"]] == ["support_ask", "support_source", "hr_ask", "hr_source"]
    assert [p["name"] for p in over_stdio.result["prompts"]] == ["ask", "source"]
    ask = over_stdio.result["prompts"][0]
    assert ask["arguments"] == [
        {"name": "question", "description": "The question, in plain language.", "required": True}
    ]
