"""`agent-bridge demo`, the README's first command, run as a user would run it."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client


def test_demo_stdio_run_prints_answer_sources_and_snippet() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_server", "demo", "--no-serve"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "not the real service" in out
    assert "ask" in out
    assert "search_citations" in out
    assert "90 days" in out  # the streamed answer to the default question
    assert "Sources:" in out
    assert "https://docs.sandbox.local/northwind-support/plans-and-pricing" in out
    snippet = json.loads(out[out.index('{\n  "mcpServers"') : out.rindex("}") + 1])
    assert snippet["mcpServers"]["customgpt"]["args"] == ["stdio"]
    assert "Traceback" not in done.stderr


def _start_demo() -> tuple[subprocess.Popen[str], str]:
    """Start `agent-bridge demo` and read its output up to the line that says it is serving."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "mcp_server", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert demo.stdout is not None
    lines: list[str] = []
    for line in demo.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    return demo, "".join(lines)


def _stop(demo: subprocess.Popen[str]) -> int:
    demo.send_signal(signal.SIGTERM)
    code = demo.wait(timeout=30)
    assert demo.stdout is not None
    demo.stdout.close()
    return code


@pytest.mark.anyio
async def test_demo_serves_http_with_the_snippets_it_prints() -> None:
    demo, out = await anyio.to_thread.run_sync(_start_demo)
    try:
        cursor = re.search(r"^Cursor[^\n]*:\n(\{\n.*?\n\})$", out, re.MULTILINE | re.DOTALL)
        assert cursor, out
        entry = json.loads(cursor.group(1))["mcpServers"]["northwind"]
        for client_name in ("Cursor", "Windsurf", "supergateway", "mcp-remote", "n8n", "agent-bridge connect"):
            assert client_name in out
        sse_url = entry["url"].removesuffix("/mcp") + "/sse"
        async with (
            httpx2.AsyncClient(headers=entry["headers"], timeout=30) as http,
            Client(streamable_http_client(entry["url"], http_client=http)) as client,
        ):
            assert [t.name for t in (await client.list_tools()).tools] == ["ask", "search_citations", "list_sources"]
        async with Client(sse_client(sse_url, headers=entry["headers"]), mode="legacy") as client:
            names = [t.name for t in (await client.list_tools()).tools]
            result = await client.call_tool("ask", {"question": "Does the desktop agent run on macOS and Ubuntu?"})
        assert names == ["ask", "search_citations", "list_sources"]
        assert not result.is_error
        assert isinstance(result.structured_content, dict)
        assert "macOS" in result.structured_content["answer"]
    finally:
        returncode = await anyio.to_thread.run_sync(_stop, demo)
    assert returncode == 0


def test_demo_on_a_busy_port_says_so_in_one_line_and_offers_a_free_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mcp_server", "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"agent-bridge: configuration error: cannot listen on 127.0.0.1:{port} (the port is in use); "
        f"try --port {int(done.stderr.rsplit('--port ', 1)[1])}"
    ]
    assert "Traceback" not in done.stderr and done.stdout == ""
