"""`agent-bridge serve` end to end with the MCP Python SDK client: Streamable HTTP (2026-07-28 and the
handshake revisions) and HTTP+SSE, per-agent URLs, the token matrix, and transport security."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from collections.abc import Generator
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"
JSONRPC_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("http") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


def _http_client(url: str, headers: dict[str, str]) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers=headers, timeout=30)


def _answer(result: types.CallToolResult) -> str:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return str(result.structured_content["answer"])


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http_single_agent(bridge: BridgeProcess, mode: str) -> None:
    async with _http_client(bridge.url, bridge.auth()) as http:
        transport = streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            pieces: list[str] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                if message:
                    pieces.append(message)

            result = await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)
    assert names == {"ask", "search_citations", "list_sources"}
    assert "90 days" in _answer(result)
    assert "".join(pieces) == _answer(result)


async def test_all_agents_endpoint_prefixes_and_project_url(bridge: BridgeProcess) -> None:
    async with _http_client(bridge.url, bridge.auth()) as http:
        async with Client(streamable_http_client(f"{bridge.url}/mcp", http_client=http)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            hr = await client.call_tool("hr_ask", {"question": "How many days of paid leave do employees get?"})
        async with Client(streamable_http_client(f"{bridge.url}/projects/1/mcp", http_client=http)) as client:
            project_names = {t.name for t in (await client.list_tools()).tools}
    assert {"support_ask", "hr_ask", "support_list_sources", "hr_search_citations"} <= names
    assert "25 days" in _answer(hr)
    assert project_names == {"ask", "search_citations", "list_sources"}


@pytest.mark.parametrize("how", ["header", "query"])
async def test_sse_with_header_or_query_token(bridge: BridgeProcess, how: str) -> None:
    token = TOKENS["all"][0]
    if how == "header":
        transport = sse_client(f"{bridge.url}/agents/support/sse", headers=bridge.auth())
    else:  # what Cursor, Windsurf and n8n paste: the token in the URL, nothing on the POSTs
        transport = sse_client(f"{bridge.url}/agents/support/sse?token={token}")
    async with Client(transport, mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("ask", {"question": QUESTION})
    assert names == {"ask", "search_citations", "list_sources"}
    assert "90 days" in _answer(result)


async def test_scoped_token_sees_only_its_agents_and_tools(bridge: BridgeProcess) -> None:
    async with (
        _http_client(bridge.url, bridge.auth("hr-ask")) as http,
        Client(streamable_http_client(f"{bridge.url}/mcp", http_client=http)) as client,
    ):
        names = {t.name for t in (await client.list_tools()).tools}
        with pytest.raises(MCPError, match="Unknown tool: 'list_sources'"):
            await client.call_tool("list_sources", {})
        with pytest.raises(MCPError, match="Unknown tool: 'support_ask'"):
            await client.call_tool("support_ask", {"question": "x"})
    assert names == {"ask"}  # one visible agent, one allowed tool


async def test_auth_matrix(bridge: BridgeProcess) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx2.AsyncClient(headers=JSONRPC_HEADERS, timeout=10) as http:
        missing = await http.post(f"{bridge.url}/mcp", json=body)
        bad = await http.post(f"{bridge.url}/mcp", json=body, headers={"Authorization": "Bearer nope"})
        api_key = await http.post(f"{bridge.url}/mcp", json=body, headers={"X-API-Key": TOKENS["all"][0]})
        query = await http.post(f"{bridge.url}/mcp?token={TOKENS['all'][0]}", json=body)
        out_of_scope = await http.post(f"{bridge.url}/agents/hr/mcp", json=body, headers=bridge.auth("support"))
        unknown_agent = await http.post(f"{bridge.url}/agents/nobody/mcp", json=body, headers=bridge.auth("support"))
        unknown_project = await http.post(f"{bridge.url}/projects/77/mcp", json=body, headers=bridge.auth())
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="agent-bridge"'
    assert "Authorization: Bearer" in missing.json()["message"]
    assert bad.status_code == 401
    assert "nope" not in bad.text
    assert api_key.status_code == 200
    assert query.status_code == 200
    # An agent outside the token's scope is answered exactly like one that does not exist.
    assert out_of_scope.status_code == 404
    assert "'hr'" not in out_of_scope.text and "hr," not in out_of_scope.text
    assert "Agents you may use: support." in out_of_scope.json()["message"]
    assert unknown_agent.status_code == 404
    assert out_of_scope.json()["message"] == unknown_agent.json()["message"].replace("nobody", "hr")
    assert unknown_project.status_code == 404


async def test_sse_session_is_bound_to_the_token_that_opened_it(bridge: BridgeProcess) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    async with (
        httpx2.AsyncClient(timeout=10) as http,
        http.stream("GET", f"{bridge.url}/sse?token={TOKENS['all'][0]}") as stream,
    ):
        endpoint = ""
        lines = stream.aiter_lines()  # kept: breaking out of an un-held iterator would close the stream
        async for line in lines:
            if line.startswith("data: "):
                endpoint = line.removeprefix("data: ")
                break
        assert endpoint.startswith("/messages/?session_id=")
        other = await http.post(f"{bridge.url}{endpoint}", json=initialize, headers=bridge.auth("support"))
        bare = await http.post(f"{bridge.url}{endpoint}", json=initialize)
        same = await http.post(f"{bridge.url}{endpoint}", json=initialize, headers=bridge.auth("all"))
    assert other.status_code == 403
    assert "belongs to another token" in other.json()["message"]
    assert bare.status_code == 202
    assert same.status_code == 202


async def test_host_and_origin_checks(bridge: BridgeProcess) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {**JSONRPC_HEADERS, **bridge.auth()}
    async with httpx2.AsyncClient(headers=headers, timeout=10) as http:
        evil_host = await http.post(f"{bridge.url}/mcp", json=body, headers={"Host": "evil.example"})
        evil_origin = await http.post(f"{bridge.url}/mcp", json=body, headers={"Origin": "https://evil.example"})
        other_port = await http.post(f"{bridge.url}/mcp", json=body, headers={"Origin": "http://localhost:3000"})
        same_origin = await http.post(f"{bridge.url}/mcp", json=body, headers={"Origin": bridge.url})
        sse_evil = await http.get(f"{bridge.url}/sse", headers={"Host": "evil.example"})
    assert evil_host.status_code == 421
    assert evil_origin.status_code == 403
    assert other_port.status_code == 403  # another local page is another origin
    assert same_origin.status_code == 200
    assert sse_evil.status_code == 421


async def test_oversized_and_malformed_bodies(bridge: BridgeProcess) -> None:
    headers = {**JSONRPC_HEADERS, **bridge.auth()}
    huge = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"' + b"x" * 2_000_000 + b'"}}'
    async with httpx2.AsyncClient(headers=headers, timeout=10) as http:
        too_big = await http.post(f"{bridge.url}/mcp", content=huge)
        malformed = await http.post(f"{bridge.url}/mcp", content=b"{not json")
        still_ok = await http.post(f"{bridge.url}/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert too_big.status_code == 413
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == types.PARSE_ERROR
    assert still_ok.status_code == 200


async def test_two_hundred_concurrent_calls(bridge: BridgeProcess) -> None:
    failures: list[str] = []
    headers = {**JSONRPC_HEADERS, **bridge.auth()}
    limits = httpx2.Limits(max_connections=200)
    async with httpx2.AsyncClient(headers=headers, timeout=60, limits=limits) as http:

        async def call(i: int) -> None:
            body = {
                "jsonrpc": "2.0",
                "id": i,
                "method": "tools/call",
                "params": {"name": "list_sources", "arguments": {"page": 1}},
            }
            response = await http.post(f"{bridge.url}/agents/support/mcp", json=body)
            if (
                response.status_code != 200
                or '"isError":true' in response.text
                or "docs.sandbox.local" not in response.text
            ):
                failures.append(f"{response.status_code} {response.text[:200]}")

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(call, i)
    assert failures == []


async def test_readiness_and_health(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        health = await http.get(f"{bridge.url}/healthz")
        ready = await http.get(f"{bridge.url}/readyz")
    assert health.json() == {"status": "ok"}
    assert ready.json() == {"status": "ready", "agents": 2}


def test_non_loopback_without_tokens_refuses_to_start(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "open.toml", sandbox.url, tokens=False)
    refused = subprocess.run(
        [sys.executable, "-m", "mcp_server", "serve", "--config", str(config), "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0 with no [[tokens]]" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_token_new_prints_a_usable_entry() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcp_server",
            "token",
            "new",
            "--name",
            "laptop",
            "--agents",
            "support",
            "--tools",
            "ask",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    token = out.split("token:", 1)[1].split()[0]
    entry = tomllib.loads(out[out.index("[[tokens]]") :])["tokens"][0]
    assert entry == {
        "name": "laptop",
        "sha256": hashlib.sha256(token.encode()).hexdigest(),
        "agents": ["support"],
        "tools": ["ask"],
    }


def test_passthrough_uses_the_callers_own_upstream_key(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "pass.toml", sandbox.url, extra_server=["passthrough = true"])
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ask", "arguments": {"question": QUESTION}},
    }
    with running_bridge(config) as bridge, httpx2.Client(headers=JSONRPC_HEADERS, timeout=30) as http:
        own_key = http.post(f"{bridge.url}/projects/1/mcp?token=sandbox-key", json=call)
        wrong_key = http.post(f"{bridge.url}/projects/1/mcp?token=someone-elses-key", json=call)
        bridge_token = http.post(f"{bridge.url}/projects/1/mcp", json=call, headers=bridge.auth())
        not_a_project_url = http.post(f"{bridge.url}/agents/support/mcp?token=sandbox-key", json=call)
    assert own_key.status_code == 200
    assert "90 days" in own_key.text
    assert wrong_key.status_code == 200  # the upstream, not the bridge, judges the key
    assert '"isError":true' in wrong_key.text
    assert "refused the API key (HTTP 401" in wrong_key.text
    assert "someone-elses-key" not in wrong_key.text
    assert bridge_token.status_code == 200
    assert "90 days" in bridge_token.text
    assert not_a_project_url.status_code == 401  # passthrough applies to /projects/{id}/ URLs only
