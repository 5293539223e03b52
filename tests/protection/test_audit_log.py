"""The audit stream: with `server.audit_log` set, one JSON line per MCP tool call, connector
search/fetch, resource read, prompt and Actions operation, with the token, agent, tool (the operation's name),
outcome, duration and upstream status of a failure; the question and the answer only with
`server.audit_content = true`, and never a token."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"
ACTIONS = ("[actions]", "enabled = true", "answer_wait_seconds = 20")


def _config(tmp_path: Path, sandbox: SandboxProcess, audit: Path, content: bool | None = None) -> Path:
    server = [f'audit_log = "{audit}"']
    if content is not None:
        server.append(f"audit_content = {str(content).lower()}")
    return write_http_config(tmp_path / "bridge.toml", sandbox.url, extra_server=server, extra_tables=ACTIONS)


@asynccontextmanager
async def _client(bridge: BridgeProcess, path: str, token: str = "support") -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers=bridge.auth(token), timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}{path}", http_client=http)) as client,
    ):
        yield client


def _lines(audit: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit.read_text().splitlines()]


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def _assert_no_secret(text: str, secrets: Sequence[str] = ("tok-", "sandbox-key")) -> None:
    for secret in secrets:
        assert secret not in text, f"{secret!r} in the audit log"


async def test_each_tool_call_writes_one_audit_line_without_content(tmp_path: Path, sandbox: SandboxProcess) -> None:
    audit = tmp_path / "audit.jsonl"
    with running_bridge(_config(tmp_path, sandbox, audit)) as bridge:
        async with _client(bridge, "/agents/support/mcp") as client:
            answered = await client.call_tool("ask", {"question": QUESTION})
            sandbox.arm_fault("server-error", count=1, path=r"/conversations$")
            failed = await client.call_tool("ask", {"question": QUESTION})
    assert not answered.is_error and failed.is_error
    text = audit.read_text()
    lines = _lines(audit)
    assert [(x["token"], x["agent"], x["tool"]) for x in lines] == [("support", "support", "ask")] * 2
    assert lines[0]["outcome"] == "ok" and lines[0]["upstream_status"] is None
    assert lines[1]["outcome"] == "UpstreamServerError" and lines[1]["upstream_status"] == 500
    assert all(isinstance(x["duration_ms"], int) and x["time"].endswith("Z") for x in lines)
    assert "backups" not in text and "90 days" not in text  # no question, no answer
    assert all("question" not in x and "answer" not in x for x in lines)
    _assert_no_secret(text)


async def test_connector_resource_and_actions_calls_are_audited_too(tmp_path: Path, sandbox: SandboxProcess) -> None:
    audit = tmp_path / "audit.jsonl"
    with running_bridge(_config(tmp_path, sandbox, audit, content=False)) as bridge:
        async with _client(bridge, "/agents/support/chatgpt/mcp") as connector:
            found = await connector.call_tool("search", {"query": QUESTION})
            assert not found.is_error, _text(found)
            first = json.loads(_text(found))["results"][0]["id"]
            fetched = await connector.call_tool("fetch", {"id": first})
            assert not fetched.is_error, _text(fetched)
        async with _client(bridge, "/agents/support/mcp") as client:
            await client.read_resource("agent://support/sources")
            prompted = await client.get_prompt("ask", {"question": QUESTION})  # spends an upstream query too
            assert prompted.messages
        with httpx2.Client(base_url=bridge.url, headers=bridge.auth("support"), timeout=60) as http:
            asked = http.post("/actions/support/ask", json={"question": QUESTION})
            assert asked.status_code == 200 and asked.json()["status"] == "complete", asked.text
            assert http.get("/actions/support/sources").status_code == 200
            assert http.get("/actions/support/citations", params={"query": "retention"}).status_code == 200
            sandbox.arm_fault("server-error", count=1, path=r"/conversations$")
            failed = http.post("/actions/support/ask", json={"question": QUESTION})
            assert failed.status_code >= 500, failed.text
    lines = _lines(audit)
    assert [(x["token"], x["agent"], x["tool"], x["outcome"]) for x in lines] == [
        ("support", "support", "search", "ok"),
        ("support", "support", "fetch", "ok"),
        ("support", "support", "sources", "ok"),
        ("support", "support", "prompt:ask", "ok"),
        ("support", "support", "ask", "ok"),
        ("support", "support", "listSources", "ok"),
        ("support", "support", "searchCitations", "ok"),
        ("support", "support", "ask", "UpstreamServerError"),
    ]
    assert lines[-1]["upstream_status"] == 500
    assert all(isinstance(x["duration_ms"], int) for x in lines)
    text = audit.read_text()
    assert "backups" not in text and "retention" not in text and "90 days" not in text
    _assert_no_secret(text)


async def test_audit_content_adds_the_question_and_the_answer(tmp_path: Path, sandbox: SandboxProcess) -> None:
    audit = tmp_path / "audit.jsonl"
    with running_bridge(_config(tmp_path, sandbox, audit, content=True)) as bridge:
        async with _client(bridge, "/agents/support/mcp") as client:
            answered = await client.call_tool("ask", {"question": QUESTION})
            assert not answered.is_error, _text(answered)
            listed = await client.call_tool("list_sources", {})
            assert not listed.is_error, _text(listed)
        async with _client(bridge, "/agents/support/chatgpt/mcp") as connector:
            assert not (await connector.call_tool("search", {"query": "restore a file"})).is_error
        with httpx2.Client(base_url=bridge.url, headers=bridge.auth("support"), timeout=60) as http:
            asked = http.post("/actions/support/ask", json={"question": "Which plans are there?"})
            assert asked.status_code == 200 and asked.json()["status"] == "complete", asked.text
    lines = _lines(audit)
    assert [(x["tool"], x.get("question")) for x in lines] == [
        ("ask", QUESTION),
        ("list_sources", None),
        ("search", "restore a file"),
        ("ask", "Which plans are there?"),
    ]
    structured: Any = answered.structured_content
    assert lines[0]["answer"] == structured["answer"] and lines[0]["answer"]
    assert lines[3]["answer"] == asked.json()["answer"]
    assert "answer" not in lines[1] and "answer" not in lines[2]
    _assert_no_secret(audit.read_text())
