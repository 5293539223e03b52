"""A bad day upstream: each sandbox fault becomes a tool error that names the agent, the cause and the
remedy, leaks no secret, and leaves the bridge serving the next call."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import mcp_types as types
import pytest

from tests.support.bridge_stdio import spawn_stdio, stdio_bridge, write_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How long are backups kept on the Pro plan?"
MESSAGES = r"/conversations/[^/]+/messages$"


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("rate-limit", "out of query credits (HTTP 429"),
        ("server-error", "the upstream failed (HTTP 500"),
        ("bad-gateway", "the upstream failed (HTTP 502"),
        ("unavailable", "the upstream failed (HTTP 503"),
        ("reset", "the connection to the upstream failed"),
        ("malformed", "not valid JSON"),
        ("hang", "did not answer within 2 seconds"),
    ],
)
async def test_fault_becomes_tool_error_and_bridge_keeps_serving(
    sandbox: SandboxProcess, tmp_path: Path, kind: str, expected: str
) -> None:
    config = write_config(tmp_path / "bridge.toml", sandbox.url, [("support", 1)], timeout=2)
    async with stdio_bridge(env={}, config=config) as client:
        sandbox.arm_fault(kind, count=1, path=MESSAGES)
        failed = await client.call_tool("ask", {"question": QUESTION})
        recovered = await client.call_tool("ask", {"question": QUESTION})
    text = _text(failed)
    assert failed.is_error, text
    assert text.startswith("Agent 'support': ")
    assert expected in text
    assert "sandbox-key" not in text and "Traceback" not in text
    assert not recovered.is_error, _text(recovered)


async def test_rate_limit_says_when_to_retry(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_config(tmp_path / "bridge.toml", sandbox.url, [("support", 1)])
    async with stdio_bridge(env={}, config=config) as client:
        sandbox.arm_fault("rate-limit", count=1, path=MESSAGES)
        failed = await client.call_tool("ask", {"question": QUESTION})
    assert "retry after" in _text(failed)


async def test_truncated_stream_is_an_incomplete_answer_error(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_config(tmp_path / "bridge.toml", sandbox.url, [("support", 1)])
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message:
            pieces.append(message)

    async with stdio_bridge(env={}, config=config) as client:
        sandbox.arm_fault("truncate", count=1, path=MESSAGES)
        failed = await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)
        recovered = await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)
    assert failed.is_error
    assert "ended before it finished" in _text(failed)
    assert not recovered.is_error, _text(recovered)


async def test_get_retries_hide_one_transient_failure(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_config(tmp_path / "bridge.toml", sandbox.url, [("support", 1)])
    async with stdio_bridge(env={}, config=config) as client:
        sandbox.arm_fault("unavailable", count=1, path=r"/pages$")
        listing = await client.call_tool("list_sources", {})
    assert not listing.is_error, _text(listing)


async def test_call_deadline_ends_a_stalled_call(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_config(tmp_path / "bridge.toml", sandbox.url, [("support", 1)], timeout=60, deadline=2)
    async with stdio_bridge(env={}, config=config) as client:
        sandbox.arm_fault("hang", count=1, path=MESSAGES)
        failed = await client.call_tool("ask", {"question": QUESTION})
    assert failed.is_error
    assert "no complete answer within the 2 second call deadline" in _text(failed)


def test_stdio_exits_cleanly_at_end_of_input(sandbox: SandboxProcess) -> None:
    with spawn_stdio(sandbox.url) as process:  # closes the pipes on the way out
        out, err = process.communicate(input=b"", timeout=30)
        assert process.returncode == 0, err.decode()
        assert out == b""  # nothing but protocol messages may reach stdout


def test_stdio_exits_cleanly_on_sigterm(sandbox: SandboxProcess) -> None:
    with spawn_stdio(sandbox.url) as process:  # closes the pipes on the way out
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(
            b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
            b'"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}\n'
        )
        process.stdin.flush()
        assert b'"id":1' in process.stdout.readline()  # serving: now stop it
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""


def test_malformed_json_rpc_gets_an_error_and_the_session_survives(sandbox: SandboxProcess) -> None:
    with spawn_stdio(sandbox.url) as process:  # closes the pipes on the way out
        lines = [
            b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
            b'"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}',
            b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
            b"{this is not json",
            b'{"jsonrpc":"2.0","id":2,"method":"tools/list"}',
        ]
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(b"\n".join(lines) + b"\n")
        process.stdin.flush()
        # Read until the reply to the request after the malformed line; closing stdin first would race
        # the server's shutdown at end of input against that reply.
        replies: list[str] = []
        while not any('"id":2' in r for r in replies):
            line = process.stdout.readline().decode()
            assert line, f"the server closed its output after {replies}"
            replies.append(line)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err.decode()
        replies += out.decode().splitlines()
        assert any('"id":2' in r and '"tools"' in r for r in replies), replies
        assert "Traceback" not in err.decode()


def test_every_line_with_an_id_gets_an_answer(sandbox: SandboxProcess) -> None:
    """Inputs the SDK's stdio reader drops in silence (it logs them at DEBUG) are answered with their error."""
    initialize = (
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
        b'"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
    )
    odd = {
        2: b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask","arguments":{"question":"\\ud800"}}}',
        3: b'{"jsonrpc":"2.0","id":3,"method":"ping","params":{"deep":' + b"[" * 300 + b"]" * 300 + b"}}",
        4: b'{"jsonrpc":"2.0","id":4,"method":"ping","params":{"n":' + b"9" * 4400 + b"}}",
    }
    lines = [
        initialize,
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        *odd.values(),
        b"\xef\xbb\xbf" + b'{"jsonrpc":"2.0","id":5,"method":"ping"}',  # a byte-order mark: read past it
        b'{"jsonrpc":"2.0","id":null,"method":"ping"}',
        b'[{"jsonrpc":"2.0","id":6,"method":"ping"}]',
        b"",
        b'{"jsonrpc":"2.0","id":7,"method":"ping"}',
    ]
    with spawn_stdio(sandbox.url) as process:  # closes the pipes on the way out
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(b"\n".join(lines) + b"\n")
        process.stdin.flush()
        replies: list[dict[str, object]] = []
        while not any(r.get("id") == 7 for r in replies):
            line = process.stdout.readline()
            assert line, f"the server closed its output after {replies}"
            replies.append(json.loads(line))
        process.stdin.close()
        process.wait(timeout=15)
    by_id = {r.get("id"): r for r in replies}
    for request_id in odd:
        assert by_id[request_id]["error"]["code"] == -32600, by_id[request_id]  # type: ignore[index]
    assert by_id[5].get("result") == {}
    refusals_without_id = [r["error"]["code"] for r in replies if r.get("id") is None]  # type: ignore[index]
    assert sorted(refusals_without_id) == [-32600, -32600]  # the null id and the batch
    assert by_id[7].get("result") == {}
