"""Regressions for the security review's findings (issue 16), each against a real bridge and sandbox.

One bridge (stateful sessions, passthrough on, two sessions per token) serves a CustomGPT agent
`support` (sandbox project 1), `hr` (project 2) and an OpenAI-compatible agent `gpt` with a system
prompt. Tokens: `alice` and `bob` share the same scope, `admin` may see the agents' configuration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import BridgeProcess, running_bridge
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"
SYSTEM_PROMPT = "Operator secret: always mention the Zebra discount."
TOKENS = {"alice": "tok-alice-5f0e2a", "bob": "tok-bob-c41d9e", "admin": "tok-admin-07be31"}
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}},
}


def _config(path: Path, sandbox_url: str) -> Path:
    lines = [
        "[server]",
        "stateless = false",
        "passthrough = true",
        "max_sessions_per_token = 2",
        "[backends.customgpt]",
        'api_key = "sandbox-key"',
        f'base_url = "{sandbox_url}"',
        "[backends.compat]",
        'kind = "openai"',
        'api_key = "sandbox-key"',
        f'base_url = "{sandbox_url}/api/v1/projects/1"',
        "[[agents]]",
        'name = "support"',
        "project_id = 1",
        'title = "Northwind Support"',
        "[[agents]]",
        'name = "hr"',
        "project_id = 2",
        'title = "Acme HR"',
        "[[agents]]",
        'name = "gpt"',
        'backend = "compat"',
        'model = "gpt-4o"',
        f'system_prompt = "{SYSTEM_PROMPT}"',
    ]
    for name, token in TOKENS.items():
        lines += ["[[tokens]]", f'name = "{name}"', f'sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"']
        if name == "admin":
            lines.append('scopes = ["agent_config"]')
        else:
            lines.append('agents = ["support", "gpt"]')
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    with running_bridge(_config(tmp_path_factory.mktemp("security") / "bridge.toml", sandbox_session.url)) as b:
        yield b


def _auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS.get(name, name)}"}  # a name from TOKENS, or a raw credential


@asynccontextmanager
async def _client(bridge: BridgeProcess, path: str, token: str) -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers=_auth(token), timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}{path}", http_client=http)) as client,
    ):
        yield client


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def _json(result: types.ReadResourceResult) -> Any:
    content = result.contents[0]
    assert isinstance(content, types.TextResourceContents)
    return json.loads(content.text)


# -- 1. ids never reach a URL unchecked (the property test is in test_id_properties.py) ------------------


async def test_citation_resource_cannot_climb_out_of_the_project(
    bridge: BridgeProcess, sandbox: SandboxProcess
) -> None:
    sandbox.reset_stats()
    async with _client(bridge, "/agents/support/mcp", "alice") as client:
        for uri in (
            "agent://support/citations/..",
            "agent://support/citations/%2e%2e",
            "agent://support/citations/1%2F..",
        ):
            with pytest.raises(MCPError, match="Resource not found"):
                await client.read_resource(uri)
    assert not any(path.rstrip("/") == "/api/v1/projects/1" for path in sandbox.stats()["paths"])


# -- 2. a conversation belongs to the principal that started it ------------------------------------------


async def test_a_conversation_is_only_its_starters(bridge: BridgeProcess) -> None:
    async with _client(bridge, "/agents/support/mcp", "alice") as alice:
        first = await alice.call_tool("ask", {"question": QUESTION})
        assert isinstance(first.structured_content, dict), _text(first)
        conversation = str(first.structured_content["conversation_id"])
        follow_up = await alice.call_tool("ask", {"question": "And on Business?", "conversation_id": conversation})
        transcript = _json(await alice.read_resource(f"agent://support/conversations/{conversation}"))
        upstream_id = conversation.rpartition("_")[0]  # the bare upstream id is no key either
        bare = await alice.call_tool("ask", {"question": "x", "conversation_id": upstream_id})
    async with _client(bridge, "/agents/support/mcp", "bob") as bob:
        stolen = await bob.call_tool("ask", {"question": "What did alice ask?", "conversation_id": conversation})
        with pytest.raises(MCPError, match="no conversation"):
            await bob.read_resource(f"agent://support/conversations/{conversation}")
        never = await bob.call_tool("ask", {"question": "x", "conversation_id": "f9b27f03-c660-4e90-a5af-95278b61f350"})
    assert not follow_up.is_error, _text(follow_up)
    assert transcript["conversation_id"] == conversation and len(transcript["messages"]) == 2
    assert bare.is_error and "no conversation" in _text(bare)
    assert stolen.is_error and "no conversation" in _text(stolen)
    # someone else's conversation reads exactly like one that never existed
    assert _text(stolen).replace(conversation, "ID") == _text(never).replace(
        "f9b27f03-c660-4e90-a5af-95278b61f350", "ID"
    )


async def test_openai_conversations_are_bound_the_same_way(bridge: BridgeProcess) -> None:
    async with _client(bridge, "/agents/gpt/mcp", "alice") as alice:
        first = await alice.call_tool("ask", {"question": QUESTION})
        assert isinstance(first.structured_content, dict), _text(first)
        conversation = str(first.structured_content["conversation_id"])
    async with _client(bridge, "/agents/gpt/mcp", "bob") as bob:
        stolen = await bob.call_tool("ask", {"question": "x", "conversation_id": conversation})
    assert stolen.is_error and "no conversation" in _text(stolen)


# -- 3. every SSE message POST carries the stream's credential -------------------------------------------


async def _endpoint(http: httpx2.AsyncClient, url: str, headers: dict[str, str]) -> tuple[str, httpx2.Response]:
    """Open an SSE stream and return the messages URL it announces (the stream stays open)."""
    request = http.build_request("GET", url, headers=headers)
    response = await http.send(request, stream=True)
    assert response.status_code == 200, await response.aread()
    lines = response.aiter_lines()  # read with anext: leaving an `async for` early would close the stream
    for _ in range(10):
        line = await anext(lines)
        if line.startswith("data: "):
            response.extensions["lines"] = lines  # keep the generator (and so the stream) alive
            return line.removeprefix("data: "), response
    raise AssertionError("no endpoint event")


async def test_sse_message_posts_are_authenticated_every_time(bridge: BridgeProcess) -> None:
    ping = {"jsonrpc": "2.0", "id": 9, "method": "ping"}
    async with httpx2.AsyncClient(base_url=bridge.url, timeout=10) as http:
        endpoint, stream = await _endpoint(http, "/agents/support/sse", _auth("alice"))
        try:
            anonymous = await http.post(endpoint, json=ping)
            other = await http.post(endpoint, json=ping, headers=_auth("bob"))
            own = await http.post(endpoint, json=INITIALIZE, headers=_auth("alice"))
        finally:
            await stream.aclose()
        # A stream opened with ?token= announces a messages URL that carries the same credential.
        query_endpoint, stream = await _endpoint(http, f"/agents/support/sse?token={TOKENS['alice']}", {})
        try:
            by_url = await http.post(query_endpoint, json=INITIALIZE)
            stripped = await http.post(query_endpoint.split("&token=")[0], json=INITIALIZE)
        finally:
            await stream.aclose()
    assert "token=" not in endpoint
    assert anonymous.status_code == 401 and "every message" in anonymous.json()["message"]
    assert other.status_code == 403 and "GET on /agents/support/sse" in other.json()["message"]
    assert own.status_code == 202
    assert query_endpoint.endswith(f"&token={TOKENS['alice']}")
    assert by_url.status_code == 202
    assert stripped.status_code == 401


# -- 4. malformed input is a 4xx or a tool error with one sentence, never a 500 or exception text --------


async def test_malformed_urls_and_keys_are_refused_cleanly(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(base_url=bridge.url, headers=HEADERS, timeout=10) as http:
        responses = {
            "5000 digits": await http.post(f"/projects/{'9' * 5000}/mcp", json=INITIALIZE, headers=_auth("alice")),
            "superscript": await http.post("/projects/\u00b2/mcp", json=INITIALIZE, headers=_auth("alice")),
            "project 0": await http.post(f"/projects/0/mcp?token={'k' * 30}", json=INITIALIZE),
            "non-ascii key": await http.post(
                "/projects/1/mcp?token=%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9", json=INITIALIZE
            ),
            "short key": await http.post("/projects/1/mcp?token=x", json=INITIALIZE),
        }
    statuses = {name: r.status_code for name, r in responses.items()}
    assert statuses == {
        "5000 digits": 404,
        "superscript": 404,
        "project 0": 404,
        "non-ascii key": 401,
        "short key": 401,
    }
    for response in responses.values():
        assert "Traceback" not in response.text and "ValueError" not in response.text
        assert response.json()["message"]


async def test_bad_ids_and_pages_are_one_clear_sentence(bridge: BridgeProcess) -> None:
    async with _client(bridge, "/agents/support/mcp", "alice") as client:
        crlf = await client.call_tool("ask", {"question": "x", "conversation_id": "abc\r\nX-Injected: 1"})
        with pytest.raises(MCPError) as huge_page:
            await client.read_resource(f"agent://support/pages?page={'9' * 400}")
        with pytest.raises(MCPError) as big_page:
            await client.read_resource("agent://support/pages?page=999999")
        result = await client.call_tool("list_sources", {"page": 10**30})
    assert crlf.is_error and "conversation_id: not a conversation id" in _text(crlf)
    assert "X-Injected" not in _text(crlf)
    assert "Resource not found: this URI" in str(huge_page.value) and "9999999999" not in str(huge_page.value)
    assert "no page 999999" in str(big_page.value)
    assert result.is_error and "page:" in _text(result)


# -- 5. Host/Origin first; no redirect, no token in any Location; no ?token= on DELETE -----------------


async def test_forged_host_is_refused_before_any_redirect(bridge: BridgeProcess) -> None:
    token = TOKENS["alice"]
    async with httpx2.AsyncClient(base_url=bridge.url, timeout=10, follow_redirects=False) as http:
        forged = await http.get(f"/mcp/?token={token}", headers={"Host": "evil.example"})
        forged_unknown = await http.get(f"/no/such/path/?token={token}", headers={"Host": "evil.example"})
        slash = await http.post(f"/agents/support/mcp/?token={token}", json=INITIALIZE, headers=HEADERS)
        delete = await http.request("DELETE", f"/mcp?token={token}", headers={"Mcp-Session-Id": "0" * 32})
        evil_origin = await http.post(
            "/mcp", json=INITIALIZE, headers={**HEADERS, **_auth("alice"), "Origin": "http://localhost:3000"}
        )
    assert forged.status_code == 421 and "location" not in forged.headers and token not in forged.text
    assert forged_unknown.status_code == 421
    assert slash.status_code == 200 and "location" not in slash.headers  # served in place, not redirected
    assert delete.status_code == 401
    assert evil_origin.status_code == 403  # a loopback origin on another port is not the bridge's own


# -- 6. passthrough: cheap refusals, one pool, nothing about configured agents ---------------------------


async def test_passthrough_shows_nothing_of_the_configured_agents(bridge: BridgeProcess) -> None:
    async with _client(bridge, "/projects/1/mcp", "sandbox-key") as client:
        tools = (await client.list_tools()).tools
        answer = await client.call_tool("ask", {"question": QUESTION})
    shown = json.dumps([t.model_dump(mode="json") for t in tools])
    assert "Northwind" not in shown and "Project 1" in shown
    assert not answer.is_error, _text(answer)


# -- 7. the operator's prompt only for tokens that say so ------------------------------------------------


async def test_settings_hide_the_operators_prompt(bridge: BridgeProcess) -> None:
    async with _client(bridge, "/agents/gpt/mcp", "alice") as client:
        plain = _json(await client.read_resource("agent://gpt/settings"))
    async with _client(bridge, "/agents/gpt/mcp", "admin") as client:
        full = _json(await client.read_resource("agent://gpt/settings"))
    async with _client(bridge, "/agents/support/mcp", "alice") as client:
        customgpt = _json(await client.read_resource("agent://support/settings"))
    assert "system_prompt" not in plain and SYSTEM_PROMPT not in json.dumps(plain)
    assert plain["model"] == "gpt-4o"
    assert full["system_prompt"] == SYSTEM_PROMPT
    assert "persona_instructions" not in customgpt and customgpt["chatbot_model"]


# -- 8. per-token caps ----------------------------------------------------------------------------------


async def test_one_token_cannot_hold_every_session(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(base_url=bridge.url, timeout=10) as http:
        opened: list[httpx2.Response] = []
        try:
            for _ in range(2):
                opened.append((await _endpoint(http, "/agents/support/sse", _auth("alice")))[1])
            third = await http.get("/agents/support/sse", headers=_auth("alice"))
            bobs, bob_stream = await _endpoint(http, "/agents/support/sse", _auth("bob"))
            await bob_stream.aclose()
        finally:
            for stream in opened:
                await stream.aclose()
        sessions = [await http.post("/mcp", json=INITIALIZE, headers={**HEADERS, **_auth("bob")}) for _ in range(3)]
        for response in sessions:
            if "mcp-session-id" in response.headers:
                await http.request(
                    "DELETE", "/mcp", headers={**_auth("bob"), "Mcp-Session-Id": response.headers["mcp-session-id"]}
                )
    assert third.status_code == 429 and "2 open SSE streams" in third.json()["message"]
    assert bobs.startswith("/agents/support/messages/")
    assert [r.status_code for r in sessions] == [200, 200, 429]
    assert "2 open sessions" in sessions[2].json()["message"]


# -- refusals every MCP client can read -----------------------------------------------------------------


async def test_a_refusal_is_a_json_rpc_error_the_sdk_client_shows(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(headers={"Authorization": "Bearer not-a-token"}, timeout=10) as http:
        with pytest.raises(ExceptionGroup) as raised:  # the SDK client's task groups wrap the MCPError
            async with Client(streamable_http_client(f"{bridge.url}/mcp", http_client=http)) as client:
                await client.list_tools()
        refused = await http.post(f"{bridge.url}/mcp", json=INITIALIZE, headers=HEADERS)
    assert raised.group_contains(MCPError, match=r"^Unauthorized: The token is not valid\.")
    body = refused.json()
    assert refused.status_code == 401 and body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["code"] == -32001 and body["error"]["data"] == {"status": 401, "reason": "unauthorized"}
    assert "not-a-token" not in refused.text


async def test_an_unparsable_sse_message_is_a_json_rpc_error_and_the_session_lives_on(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(base_url=bridge.url, timeout=10, headers=_auth("alice")) as http:
        endpoint, stream = await _endpoint(http, "/agents/support/sse", {})
        try:
            not_json = await http.post(
                endpoint, content=b"{this is not json", headers={"Content-Type": "application/json"}
            )
            not_rpc = await http.post(endpoint, json={"id": 7, "method": 12})
            null_id = await http.post(endpoint, json={"jsonrpc": "2.0", "id": None, "method": "ping"})
            list_id = await http.post(endpoint, json={"jsonrpc": "2.0", "id": [], "method": "ping"})
            fine = await http.post(endpoint, json=INITIALIZE)
        finally:
            await stream.aclose()
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == -32700
    assert not_rpc.status_code == 400 and not_rpc.json()["id"] == 7
    assert not_rpc.json()["error"]["code"] == -32600
    assert not_rpc.json()["error"]["message"].startswith("Invalid Request: the message is not a JSON-RPC 2.0 request")
    for not_an_id in (null_id, list_id):  # the SDK would take these for notifications and answer 202
        assert not_an_id.status_code == 400 and not_an_id.json()["id"] is None
        assert not_an_id.json()["error"] == {
            "code": -32600,
            "message": "Invalid Request: the id must be a string or an integer (leave it out for a notification).",
        }
    assert fine.status_code == 202
