"""Upstream protection against a real bridge and sandbox: the per-token rate limit (a tool error over
MCP, 429 with Retry-After on the Actions facade), the bound on concurrent upstream requests, and the
circuit breaker that stops sending to a failing backend and probes it again later."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

MESSAGES = r"/conversations/[^/]+/messages$"
MESSAGES_ROUTE = "/api/v1/projects/{project_id}/conversations/{session_id}/messages"
QUESTION = {"question": "How long are backups kept on the Pro plan?"}


@contextmanager
def _bridge(
    tmp_path: Path, sandbox: SandboxProcess, server: Sequence[str] = (), backend: Sequence[str] = ()
) -> Generator[BridgeProcess]:
    config = write_http_config(
        tmp_path / "bridge.toml",
        sandbox.url,
        protection=True,
        extra_server=server,
        extra_backend=backend,
        extra_tables=("[actions]", "enabled = true", "answer_wait_seconds = 20"),
    )
    with running_bridge(config) as bridge:
        yield bridge


@asynccontextmanager
async def _client(bridge: BridgeProcess, token: str = "all") -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers=bridge.auth(token), timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)) as client,
    ):
        yield client


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def _requests_sent(sandbox: SandboxProcess) -> int:
    return sum(int(n) for path, n in sandbox.stats()["requests"].items() if path.startswith("/api/"))


def _messages_sent(sandbox: SandboxProcess) -> int:
    return int(sandbox.stats()["requests"].get(MESSAGES_ROUTE, 0))


async def _until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(20):
        while not condition():  # noqa: ASYNC110 - the condition is another process's state
            await anyio.sleep(0.05)


async def test_a_token_over_its_rate_limit_gets_a_tool_error_and_a_429_naming_it(
    tmp_path: Path, sandbox: SandboxProcess
) -> None:
    with _bridge(tmp_path, sandbox, server=['rate_limit = "2/minute"']) as bridge:
        async with _client(bridge) as client:
            first = await client.call_tool("list_sources", {})
            second = await client.call_tool("list_sources", {})
            sandbox.reset_stats()
            third = await client.call_tool("ask", QUESTION)
        assert not first.is_error and not second.is_error, _text(first) + _text(second)
        assert third.is_error
        assert "token 'all' is over its rate limit of 2/minute; retry in " in _text(third)
        assert _messages_sent(sandbox) == 0  # nothing reached the upstream
        # the facade says the same with a 429 and Retry-After; the limit is the token's, not the server's
        over = httpx2.get(f"{bridge.url}/actions/support/sources", headers=bridge.auth(), timeout=30)
        assert over.status_code == 429 and over.json()["error"] == "rate_limited", over.text
        assert "2/minute" in over.json()["message"]
        assert 1 <= int(over.headers["retry-after"]) <= 60
        other = httpx2.get(f"{bridge.url}/actions/support/sources", headers=bridge.auth("support"), timeout=30)
        assert other.status_code == 200, other.text


async def test_a_token_may_have_its_own_rate_limit(tmp_path: Path, sandbox: SandboxProcess) -> None:
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url, protection=True, tokens=False)
    token = "tok-own-limit-5c1d"
    digest = hashlib.sha256(token.encode()).hexdigest()
    config.write_text(config.read_text() + f'[[tokens]]\nname = "tight"\nsha256 = "{digest}"\nrate_limit = "1/hour"\n')
    with running_bridge(config) as bridge:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)) as client,
        ):
            assert not (await client.call_tool("list_sources", {})).is_error
            over = await client.call_tool("list_sources", {})
    assert over.is_error and "rate limit of 1/hour" in _text(over)


@asynccontextmanager
async def _open_client(bridge: BridgeProcess) -> AsyncGenerator[Client]:
    """A client of a bridge with no tokens: it sends no credential."""
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)) as client,
    ):
        yield client


async def _texts_of_calls(client: Client, count: int) -> list[str]:
    """The error texts of `count` list_sources calls ("" for each that succeeded)."""
    results = [await client.call_tool("list_sources", {}) for _ in range(count)]
    return [_text(r) if r.is_error else "" for r in results]


async def test_the_default_rate_limit_spares_a_bridge_with_no_tokens_but_not_a_token(
    tmp_path: Path, sandbox: SandboxProcess
) -> None:
    """No [server] rate_limit: the open mode (no tokens, no OAuth) is one user's and is not throttled;
    a token gets 60/minute."""
    open_config = write_http_config(
        tmp_path / "open.toml", sandbox.url, protection=True, tokens=False, extra_tables=("[actions]", "enabled = true")
    )
    with running_bridge(open_config) as bridge:
        async with _open_client(bridge) as client:
            assert await _texts_of_calls(client, 61) == [""] * 61
        facade = httpx2.get(f"{bridge.url}/actions/support/sources", timeout=30)  # the 62nd call
        assert facade.status_code == 200, facade.text
    with _bridge(tmp_path, sandbox) as bridge:
        async with _client(bridge) as client:
            texts = await _texts_of_calls(client, 61)
    assert texts[:60] == [""] * 60
    assert "token 'all' is over its rate limit of 60/minute; retry in " in texts[60], texts[60]


async def test_a_configured_rate_limit_applies_to_a_bridge_with_no_tokens(
    tmp_path: Path, sandbox: SandboxProcess
) -> None:
    config = write_http_config(
        tmp_path / "open.toml", sandbox.url, protection=True, tokens=False, extra_server=['rate_limit = "2/minute"']
    )
    with running_bridge(config) as bridge:
        async with _open_client(bridge) as client:
            texts = await _texts_of_calls(client, 3)
    assert texts[:2] == ["", ""]
    assert "this bridge (it has no tokens) is over its rate limit of 2/minute; retry in " in texts[2], texts[2]


async def test_the_circuit_breaker_fails_fast_then_probes_again(tmp_path: Path, sandbox: SandboxProcess) -> None:
    backend = ["breaker_failures = 2", "breaker_open_seconds = 1"]
    with _bridge(tmp_path, sandbox, backend=backend) as bridge:
        async with _client(bridge) as client:
            sandbox.arm_fault("server-error", count=-1)  # the upstream is down: every request fails
            for _ in range(2):
                failed = await client.call_tool("ask", QUESTION)
                assert failed.is_error and "the upstream failed (HTTP 500" in _text(failed)
            sent = _requests_sent(sandbox)
            fast = await client.call_tool("ask", QUESTION)
            assert fast.is_error and "failed 2 times in a row" in _text(fast), _text(fast)
            assert "it will try again in " in _text(fast)
            assert _requests_sent(sandbox) == sent  # failed fast: nothing sent
            facade = httpx2.get(f"{bridge.url}/actions/support/sources", headers=bridge.auth(), timeout=30)
            assert facade.status_code == 503 and "retry-after" in facade.headers, facade.text
            sandbox.clear_faults()
            await anyio.sleep(1.5)  # the breaker's open time; then one probe goes through and closes it
            probe = await client.call_tool("ask", QUESTION)
            assert not probe.is_error, _text(probe)
            again = await client.call_tool("ask", QUESTION)
            assert not again.is_error, _text(again)


async def test_the_breaker_opens_when_only_the_message_posts_fail(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """Each `ask` creates a conversation (succeeds) and posts its message (fails): never two failures in
    a row, yet half the requests fail, so the breaker opens, fails fast, and recovers by its probe."""
    backend = ["breaker_failures = 3", "breaker_open_seconds = 2"]  # the default share: 0.25
    with _bridge(tmp_path, sandbox, backend=backend) as bridge:
        async with _client(bridge) as client:
            assert not (await client.call_tool("ask", QUESTION)).is_error  # healthy first
            sandbox.arm_fault("server-error", count=-1, path=MESSAGES)  # only the message POST fails
            upstream_failures = 0
            fast = None
            for _ in range(12):  # the healthy requests above are in the window too
                result = await client.call_tool("ask", QUESTION)
                assert result.is_error
                if "so the bridge is not sending it requests for now" in _text(result):
                    fast = _text(result)
                    break
                assert "the upstream failed (HTTP 500" in _text(result), _text(result)
                upstream_failures += 1
            assert fast is not None, "the breaker never opened"
            assert upstream_failures >= 3
            assert f"failed {upstream_failures} of its last " in fast and "it will try again in " in fast, fast
            assert "in a row" not in fast
            sent = _requests_sent(sandbox)
            again = await client.call_tool("ask", QUESTION)
            assert again.is_error and "it will try again in " in _text(again)
            assert _requests_sent(sandbox) == sent  # failed fast: nothing sent
            sandbox.clear_faults()
            await anyio.sleep(2.5)  # the open time; the next request is the half-open probe
            probe = await client.call_tool("ask", QUESTION)
            assert not probe.is_error, _text(probe)
            assert _requests_sent(sandbox) > sent
            after = await client.call_tool("ask", QUESTION)
            assert not after.is_error, _text(after)


async def test_requests_over_the_concurrency_bound_queue_then_fail_clearly(
    tmp_path: Path, sandbox: SandboxProcess
) -> None:
    backend = ["max_concurrent_requests = 1", "queue_timeout_seconds = 0.5"]
    with _bridge(tmp_path, sandbox, backend=backend) as bridge:
        sandbox.arm_fault("latency", count=1, path=MESSAGES, latency=3)
        results: list[types.CallToolResult] = []

        async def ask() -> None:
            async with _client(bridge) as client:
                results.append(await client.call_tool("ask", QUESTION))

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            await _until(lambda: _messages_sent(sandbox) > 0)  # the first now holds the only slot
            tg.start_soon(ask)
        texts = [_text(r) for r in results]
        busy = [t for r, t in zip(results, texts, strict=True) if r.is_error]
        assert len(busy) == 1 and "none finished within 0.5 seconds" in busy[0], texts
        assert "max_concurrent_requests" in busy[0]
        async with _client(bridge) as client:  # the slot is free again
            assert not (await client.call_tool("ask", QUESTION)).is_error
