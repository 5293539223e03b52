"""`--log-format json`: every line of the bridge's log is one JSON object, lines written while serving a
request carry its request id (the caller's `X-Request-Id`, echoed back), and no token, upstream key or
session id reaches the log. Text stays the default."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import TOKENS, running_bridge_logging_to, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

MESSAGES = r"/conversations/[^/]+/messages$"
REQUEST_ID = "trace-me-42"


async def test_json_lines_with_request_ids_and_no_secrets(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url, extra_server=["stateless = false"])
    log = tmp_path / "bridge.log"
    token = TOKENS["all"][0]
    with running_bridge_logging_to(config, log, level="debug", log_format="json") as bridge:
        sandbox.arm_fault("rate-limit", path=MESSAGES)  # the bridge logs the failed call at INFO
        sent: dict[str, bytes] = {}  # each POST of the session gets its own request id

        async def number_each_request(request: httpx2.Request) -> None:
            request.headers["X-Request-Id"] = f"{REQUEST_ID}-{len(sent)}"
            sent[request.headers["X-Request-Id"]] = request.content

        async with httpx2.AsyncClient(timeout=30) as http:
            echoed = await http.get(f"{bridge.url}/healthz", headers={"X-Request-Id": REQUEST_ID})
            made = await http.get(f"{bridge.url}/healthz", headers={"X-Request-Id": 'not ok {"json": 1}'})
            async with httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
                event_hooks={"request": [number_each_request]},
            ) as authed:
                transport = streamable_http_client(f"{bridge.url}/agents/support/mcp?token={token}", http_client=authed)
                async with Client(transport) as client:
                    failed = await client.call_tool("ask", {"question": "How long are backups kept?"})
            await http.get(f"{bridge.url}/mcp?token={token}")
    assert failed.is_error
    assert echoed.headers["x-request-id"] == REQUEST_ID
    assert made.headers["x-request-id"] != REQUEST_ID and len(made.headers["x-request-id"]) == 16
    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    assert entries and all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    failure = [e for e in entries if "tool ask failed" in e["message"]]
    # The session's server task was started by the first POST; the failure is logged with the id of the
    # POST that carried the tools/call.
    calls = [request_id for request_id, body in sent.items() if b'"tools/call"' in body]
    assert failure and failure[0]["level"] == "info" and failure[0]["request_id"] == calls[0] != f"{REQUEST_ID}-0"
    assert token not in text and "sandbox-key" not in text
    assert not any(len(w) == 32 and all(c in "0123456789abcdef" for c in w) for w in text.replace('"', " ").split())


def test_text_stays_the_default(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url)
    log = tmp_path / "bridge.log"
    with running_bridge_logging_to(config, log, level="info") as bridge:
        response = httpx2.get(f"{bridge.url}/healthz", timeout=30)
    assert "x-request-id" not in response.headers  # no request ids without JSON logs
    lines = log.read_text().splitlines()
    assert any(" INFO mcp_server.http_app: ready: 2 agent(s)" in line for line in lines)
    assert not any(line.startswith("{") for line in lines)
