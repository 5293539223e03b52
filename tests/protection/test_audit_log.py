"""The audit stream: with `server.audit_log` set, one JSON line per tool call with the token, agent,
tool, outcome, duration and upstream status of a failure, never the question or the answer."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"


async def test_each_tool_call_writes_one_audit_line_without_content(tmp_path: Path, sandbox: SandboxProcess) -> None:
    audit = tmp_path / "audit.jsonl"
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url, extra_server=[f'audit_log = "{audit}"'])
    with running_bridge(config) as bridge:
        async with (
            httpx2.AsyncClient(headers=bridge.auth("support"), timeout=30) as http,
            Client(streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)) as client,
        ):
            answered = await client.call_tool("ask", {"question": QUESTION})
            sandbox.arm_fault("server-error", count=1, path=r"/conversations$")
            failed = await client.call_tool("ask", {"question": QUESTION})
    assert not answered.is_error and failed.is_error
    text = audit.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(x["token"], x["agent"], x["tool"]) for x in lines] == [("support", "support", "ask")] * 2
    assert lines[0]["outcome"] == "ok" and lines[0]["upstream_status"] is None
    assert lines[1]["outcome"] == "UpstreamServerError" and lines[1]["upstream_status"] == 500
    assert all(isinstance(x["duration_ms"], int) and x["time"].endswith("Z") for x in lines)
    assert "backups" not in text and "90 days" not in text and "tok-" not in text  # no question, answer, token
