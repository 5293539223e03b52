"""`agent-bridge stdio` answers `initialize` before it asks the upstream anything.

The environment mode names its agents after their upstream projects. Those requests wait until the
first message after `initialize` (the client's `notifications/initialized`), so a slow upstream cannot
hold a client's `initialize`; the messages that follow wait for the names and keep their order.
The bridge is a real child process; the upstream is a real HTTP server on loopback that records what
it was asked (tests/support/scripted_upstream.py).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.support.scripted_upstream import json_reply, scripted_upstream

pytestmark = pytest.mark.anyio

PROJECT = {"data": {"id": 7, "project_name": "Acme Handbook"}}


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


async def _answer(stdout: BufferedByteReceiveStream, request_id: int) -> dict[str, Any]:
    with anyio.fail_after(20):
        while True:
            message = json.loads(await stdout.receive_until(b"\n", 1_000_000))
            if message.get("id") == request_id:
                return message


async def test_initialize_is_answered_before_any_upstream_request_and_names_follow() -> None:
    async with scripted_upstream(json_reply(PROJECT)) as upstream:
        env = {"CUSTOMGPT_BASE_URL": upstream.url, "CUSTOMGPT_API_KEY": "k", "CUSTOMGPT_PROJECT_IDS": "7"}
        process: Process = await anyio.open_process(
            [sys.executable, "-m", "mcp_server", "stdio"], env={**env, "PATH": "/usr/bin:/bin"}
        )
        async with process:
            assert process.stdin is not None and process.stdout is not None
            stdout = BufferedByteReceiveStream(process.stdout)
            await process.stdin.send(
                _line(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "initialize",
                        "params": {
                            "protocolVersion": "2025-11-25",
                            "capabilities": {},
                            "clientInfo": {"name": "test", "version": "1"},
                        },
                    }
                )
            )
            initialized = await _answer(stdout, 1)
            assert initialized["result"]["serverInfo"]["name"] == "agent-bridge"
            assert upstream.requests == []  # answered without asking the upstream

            await process.stdin.send(_line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            await process.stdin.send(_line({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
            tools = (await _answer(stdout, 2))["result"]["tools"]
            assert {t["name"] for t in tools} == {"ask", "search_citations", "list_sources"}
            assert any("Acme Handbook" in json.dumps(t) for t in tools)  # named after the upstream project
            assert upstream.requests[0].path == "/api/v1/projects/7"

            await process.stdin.aclose()  # end of input: the bridge exits
            with anyio.fail_after(10):
                assert await process.wait() == 0
