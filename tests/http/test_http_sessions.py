"""Who may use a session, passthrough over both transports, helpful 404s, and `--workers`, each
against real `agent-bridge serve` processes."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import (
    TOKENS,
    BridgeProcess,
    running_bridge,
    running_bridge_logging_to,
    write_http_config,
)
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"
LEAVE = "How many days of paid leave do employees get?"
JSONRPC_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def _answer(result: types.CallToolResult) -> str:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return str(result.structured_content["answer"])


@asynccontextmanager
async def _sse_endpoint(http: httpx2.AsyncClient, url: str) -> AsyncGenerator[str]:
    """Open an SSE stream by hand and yield the messages path its first event announces."""
    async with http.stream("GET", url) as stream:
        lines = stream.aiter_lines()  # kept: breaking out of an un-held iterator would close the stream
        async for line in lines:
            if line.startswith("data: "):
                yield line.removeprefix("data: ")
                return
        raise AssertionError(f"no endpoint event from {url}")


@pytest.fixture(scope="module")
def session_bridge(
    sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory
) -> Generator[BridgeProcess]:
    path = tmp_path_factory.mktemp("sessions") / "bridge.toml"
    with running_bridge(write_http_config(path, sandbox_session.url, extra_server=["stateless = false"])) as bridge:
        yield bridge


@pytest.fixture(scope="module")
def passthrough_bridge(
    sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory
) -> Generator[BridgeProcess]:
    """Passthrough on, no bridge tokens, and only project 1 configured: project 2 is reachable by key alone."""
    path = tmp_path_factory.mktemp("passthrough") / "bridge.toml"
    config = write_http_config(
        path,
        sandbox_session.url,
        tokens=False,
        extra_server=["passthrough = true"],
        agents=[("support", 1, "Northwind Support")],
    )
    with running_bridge(config) as bridge:
        yield bridge


async def test_stateful_session_belongs_to_the_token_that_opened_it(session_bridge: BridgeProcess) -> None:
    url = f"{session_bridge.url}/mcp"
    async with httpx2.AsyncClient(headers=JSONRPC_HEADERS, timeout=10) as http:
        opened = await http.post(url, json=INITIALIZE, headers=session_bridge.auth("all"))
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-06-18"}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await http.post(url, json=initialized, headers={**session, **session_bridge.auth("all")})
        other = await http.post(url, json=TOOLS_LIST, headers={**session, **session_bridge.auth("support")})
        owner = await http.post(url, json=TOOLS_LIST, headers={**session, **session_bridge.auth("all")})
    assert opened.status_code == 200
    assert other.status_code == 404  # as if the session did not exist
    assert owner.status_code == 200
    assert "support_ask" in owner.text


async def test_sessions_mode_serves_the_sdk_client(session_bridge: BridgeProcess) -> None:
    async with (
        httpx2.AsyncClient(headers=session_bridge.auth("support"), timeout=30) as http,
        Client(streamable_http_client(f"{session_bridge.url}/projects/1/mcp", http_client=http), mode="legacy") as c,
    ):
        result = await c.call_tool("ask", {"question": QUESTION})
    assert "90 days" in _answer(result)


async def test_project_sse_url_with_query_token(session_bridge: BridgeProcess) -> None:
    """The hosted-URL shape users paste: /projects/<id>/sse?token=..."""
    transport = sse_client(f"{session_bridge.url}/projects/2/sse?token={TOKENS['hr-ask'][0]}")
    async with Client(transport, mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("ask", {"question": LEAVE})
    assert names == {"ask"}  # the hr-ask token may only ask
    assert "25 days" in _answer(result)


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_passthrough_reaches_an_unconfigured_project_with_the_callers_key(
    passthrough_bridge: BridgeProcess, transport: str
) -> None:
    if transport == "sse":
        connection = sse_client(f"{passthrough_bridge.url}/projects/2/sse?token=sandbox-key")
    else:
        connection = streamable_http_client(f"{passthrough_bridge.url}/projects/2/mcp?token=sandbox-key")
    async with Client(connection) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("ask", {"question": LEAVE})
    assert names == {"ask", "search_citations", "list_sources"}
    assert "25 days" in _answer(result)


async def test_passthrough_sse_session_is_bound_to_its_key(passthrough_bridge: BridgeProcess) -> None:
    async with (
        httpx2.AsyncClient(timeout=10) as http,
        _sse_endpoint(http, f"{passthrough_bridge.url}/projects/1/sse?token=sandbox-key") as endpoint,
    ):
        assert endpoint.startswith("/projects/1/messages/?session_id=")
        other = await http.post(f"{passthrough_bridge.url}{endpoint}&token=another-key", json=INITIALIZE)
        bare = await http.post(f"{passthrough_bridge.url}{endpoint}", json=INITIALIZE)
    assert other.status_code == 403
    assert "another-key" not in other.text
    assert bare.status_code == 202


async def test_sse_session_id_works_only_on_its_own_messages_path(session_bridge: BridgeProcess) -> None:
    async with (
        httpx2.AsyncClient(headers=session_bridge.auth(), timeout=10) as http,
        _sse_endpoint(http, f"{session_bridge.url}/agents/support/sse") as endpoint,
    ):
        assert endpoint.startswith("/agents/support/messages/?session_id=")
        query = endpoint.split("?", 1)[1]
        elsewhere = await http.post(f"{session_bridge.url}/agents/hr/messages/?{query}", json=INITIALIZE)
        unknown = await http.post(f"{session_bridge.url}/messages/?session_id={'0' * 32}", json=INITIALIZE)
        own = await http.post(f"{session_bridge.url}{endpoint}", json=INITIALIZE)
    assert elsewhere.status_code == 404
    assert unknown.status_code == 404
    assert "open a new one" in unknown.json()["message"]
    assert own.status_code == 202


async def test_not_found_answers_are_json_and_name_what_exists(session_bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(headers={**JSONRPC_HEADERS, **session_bridge.auth("support")}, timeout=10) as http:
        agent_sse = await http.get(f"{session_bridge.url}/agents/nobody/sse")
        project = await http.post(f"{session_bridge.url}/projects/77/mcp", json=TOOLS_LIST)
        not_a_number = await http.post(f"{session_bridge.url}/projects/abc/mcp", json=TOOLS_LIST)
        nowhere = await http.get(f"{session_bridge.url}/nowhere")
    assert agent_sse.status_code == 404
    assert "Agents you may use: support." in agent_sse.json()["message"]  # only the token's agents
    assert project.status_code == 404
    assert "Projects you may use: 1." in project.json()["message"]
    assert not_a_number.status_code == 404
    assert nowhere.status_code == 404
    assert "/agents/<agent>/mcp" in nowhere.json()["message"]


async def test_many_concurrent_sse_sessions(session_bridge: BridgeProcess) -> None:
    """100 HTTP+SSE sessions open at once on one process, each listing and calling a tool.

    All 100 stay open until every one has called; they connect 20 at a time with a 30 s timeout (the SDK
    client's 5 s default, with 100 connects in the same instant on a busy 2-core CI machine, measured the
    machine rather than the bridge: one timed out once)."""
    failures: list[str] = []
    opening = anyio.Semaphore(20)
    finished: set[int] = set()
    all_finished = anyio.Event()

    def finish(i: int) -> None:
        finished.add(i)
        if len(finished) == 100:
            all_finished.set()

    async def session(i: int) -> None:
        url = f"{session_bridge.url}/agents/support/sse?token={TOKENS['all'][0]}"
        try:
            async with AsyncExitStack() as stack:
                async with opening:
                    client = await stack.enter_async_context(Client(sse_client(url, timeout=30), mode="legacy"))
                await client.list_tools()
                result = await client.call_tool("list_sources", {"page": 1})
                if result.is_error:
                    failures.append(f"{i}: {result.content}")
                finish(i)
                await all_finished.wait()  # hold this session open until all 100 have called
        except Exception as exc:  # collected and reported below
            failures.append(f"{i}: {exc!r}")
        finally:
            finish(i)

    with anyio.fail_after(180):
        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(session, i)
    assert failures == []


async def test_workers_share_the_socket_and_keep_the_host_override(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """`--workers 2 --host 127.0.0.2`: each worker accepts the bind address as a Host."""
    config = write_http_config(tmp_path / "workers.toml", sandbox.url)
    with running_bridge(config, "--workers", "2", "--host", "127.0.0.2") as bridge:
        assert bridge.url.startswith("http://127.0.0.2:")
        async with httpx2.AsyncClient(headers=bridge.auth(), timeout=30) as http:
            for _ in range(4):  # spread over the workers
                async with Client(streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)) as c:
                    result = await c.call_tool("ask", {"question": QUESTION})
                    assert "90 days" in _answer(result)


async def test_no_token_or_key_reaches_the_log_even_at_debug(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """Query tokens, header tokens, bad tokens and passthrough keys: none appears in the bridge's log."""
    config = write_http_config(tmp_path / "logged.toml", sandbox.url, extra_server=["passthrough = true"])
    log = tmp_path / "bridge.log"
    secrets = [TOKENS["all"][0], TOKENS["support"][0], "sandbox-key", "wrong-token-4d1f", "bad-upstream-key-9e2a"]
    with running_bridge_logging_to(config, log, level="debug") as bridge:
        async with Client(sse_client(f"{bridge.url}/agents/support/sse?token={TOKENS['all'][0]}"), mode="legacy") as c:
            assert "90 days" in _answer(await c.call_tool("ask", {"question": QUESTION}))
        async with Client(streamable_http_client(f"{bridge.url}/projects/1/mcp?token=sandbox-key")) as c:
            assert "90 days" in _answer(await c.call_tool("ask", {"question": QUESTION}))
        async with httpx2.AsyncClient(headers=JSONRPC_HEADERS, timeout=10) as http:
            bad = await http.post(f"{bridge.url}/mcp?token=wrong-token-4d1f", json=TOOLS_LIST)
            refused = await http.post(f"{bridge.url}/agents/hr/mcp", json=TOOLS_LIST, headers=bridge.auth("support"))
            upstream_refused = await http.post(
                f"{bridge.url}/projects/1/mcp",
                json={**TOOLS_LIST, "method": "tools/call", "params": {"name": "list_sources", "arguments": {}}},
                headers={"Authorization": "Bearer bad-upstream-key-9e2a"},
            )
    assert (bad.status_code, refused.status_code, upstream_refused.status_code) == (401, 404, 200)
    assert '"isError":true' in upstream_refused.text
    text = log.read_text()
    assert "DEBUG" in text  # the log was written, at debug level
    leaked = [s for s in secrets if s in text or s in bad.text + refused.text + upstream_refused.text]
    assert leaked == []
