"""Real Node clients spawning `agent-bridge stdio` (environment-only config against the sandbox): the
TypeScript SDK's StdioClientTransport and the MCP Inspector CLI with `-e KEY=VALUE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.node import NODE_MARKS, run_inspector, run_ts_client_output, stdio_bridge_command, stdio_bridge_env
from tests.support.sandbox_process import SandboxProcess

pytestmark = NODE_MARKS

QUESTION = "How long are backups kept on the Pro plan?"
TOOLS = ["ask", "search_citations", "list_sources"]
# With environment-only config the agent is named after the project: the demo's "Northwind Support".
SETTINGS_URI = "agent://northwind-support/settings"


def _stdio_spec(sandbox: SandboxProcess, ops: list[dict[str, Any]]) -> dict[str, Any]:
    command, *args = stdio_bridge_command()
    # `env` is explicit: without it the SDK passes the server only HOME, LOGNAME, PATH, SHELL, TERM, USER.
    return {"transport": "stdio", "command": command, "args": args, "env": stdio_bridge_env(sandbox.url), "ops": ops}


def test_typescript_sdk_over_stdio(sandbox: SandboxProcess, tmp_path: Path) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "listTools"},
        {"op": "callTool", "name": "ask", "arguments": {"question": QUESTION}, "progress": True},
        {"op": "listResources"},
        {"op": "readResource", "uri": SETTINGS_URI},
        {"op": "callTool", "name": "no_such_tool", "arguments": {}},
    ]
    output = run_ts_client_output(_stdio_spec(sandbox, ops), tmp_path)
    listed, asked, resources, settings, unknown = output["results"]

    assert output["server"]["name"] == "agent-bridge"
    assert listed["tools"] == TOOLS, listed
    assert "error" not in asked, asked
    structured = asked["result"]["structuredContent"]
    assert "90 days" in structured["answer"]
    assert structured["conversation_id"]
    assert structured["citations"]
    assert any("plans-and-pricing" in str(c.get("url")) for c in structured["citations"]), structured["citations"]
    assert not asked["result"].get("isError")
    # The answer streams as progress messages whose text, joined, is the answer.
    assert "".join(p["message"] for p in asked["progress"] if p["message"]) == structured["answer"]

    assert SETTINGS_URI in [r["uri"] for r in resources["resources"]], resources
    content = settings["resource"]["contents"][0]
    assert content["mimeType"] == "application/json"
    assert json.loads(content["text"])  # the agent's settings, as JSON
    # An unknown tool is a JSON-RPC error that names the tools there are.
    assert "ask" in unknown["error"] and "no_such_tool" in unknown["error"], unknown


def test_typescript_sdk_conversation_follow_up_over_stdio(sandbox: SandboxProcess, tmp_path: Path) -> None:
    first = run_ts_client_output(
        _stdio_spec(sandbox, [{"op": "callTool", "name": "ask", "arguments": {"question": QUESTION}}]), tmp_path
    )["results"][0]
    conversation = first["result"]["structuredContent"]["conversation_id"]
    follow_up = {"question": "And on the Starter plan?", "conversation_id": conversation}
    again = run_ts_client_output(
        _stdio_spec(sandbox, [{"op": "callTool", "name": "ask", "arguments": follow_up}]), tmp_path
    )["results"][0]
    assert "error" not in again, again
    assert again["result"]["structuredContent"]["conversation_id"] == conversation
    assert again["result"]["structuredContent"]["answer"]


def _inspector_stdio(sandbox: SandboxProcess, *method: str) -> list[str]:
    env = [arg for key, value in stdio_bridge_env(sandbox.url).items() for arg in ("-e", f"{key}={value}")]
    return [*stdio_bridge_command(), *env, *method]


def test_inspector_cli_over_stdio(sandbox: SandboxProcess, tmp_path: Path) -> None:
    listed = run_inspector(_inspector_stdio(sandbox, "--method", "tools/list"), tmp_path)
    assert [t["name"] for t in listed.result["tools"]] == TOOLS

    called = run_inspector(
        _inspector_stdio(
            sandbox,
            "--method",
            "tools/call",
            "--tool-name",
            "ask",
            "--tool-args-json",
            json.dumps({"question": QUESTION}),
        ),
        tmp_path,
    )
    structured = called.result["structuredContent"]
    assert "90 days" in structured["answer"]
    assert structured["citations"]
    assert structured["conversation_id"]

    read = run_inspector(_inspector_stdio(sandbox, "--method", "resources/read", "--uri", SETTINGS_URI), tmp_path)
    assert read.result["contents"][0]["uri"] == SETTINGS_URI

    # An unknown resource: the Inspector's JSON error envelope on stderr and a non-zero exit.
    missing = run_inspector(
        _inspector_stdio(sandbox, "--method", "resources/read", "--uri", "agent://nobody/settings"), tmp_path
    )
    assert missing.returncode != 0
    assert "Resource not found" in missing.payload["error"]["message"], missing
    # The `-e` values stayed in memory: nothing in the Inspector's stores under the test's HOME.
    assert not any("sandbox-key" in p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())


def test_inspector_cli_passes_only_its_e_variables(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """The Inspector does not hand its own environment to a stdio server: CUSTOMGPT_* set for the
    Inspector, but not given with `-e`, never reach the bridge, which exits for want of configuration."""
    refused = run_inspector(
        [*stdio_bridge_command(), "--method", "tools/list"], tmp_path, extra_env=stdio_bridge_env(sandbox.url)
    )
    assert refused.returncode != 0
    assert "no configuration" in refused.stderr
    assert refused.payload["error"]["message"] == "Connection closed", refused
