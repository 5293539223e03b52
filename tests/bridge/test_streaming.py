"""Streaming answers over stdio: the answer arrives as progress, silence is filled with heartbeats,
and a cancelled call closes the upstream stream (observed at the sandbox)."""

from __future__ import annotations

from pathlib import Path

import anyio
import mcp_types as types
import pytest

from tests.support.bridge_stdio import stdio_bridge, write_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

QUESTION = "How do I restore a deleted file?"
MESSAGES = r"/conversations/[^/]+/messages$"


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


@pytest.mark.parametrize("mode", ["legacy", "auto"])  # auto negotiates the stateless 2026-07-28 revision
async def test_progress_pieces_concatenate_to_the_answer(sandbox: SandboxProcess, tmp_path: Path, mode: str) -> None:
    config = write_config(tmp_path / "bridge.toml", sandbox.url, [("support", 1)])
    pieces: list[str] = []
    values: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        values.append(progress)
        if message:
            pieces.append(message)

    async with stdio_bridge(env={}, config=config, mode=mode) as client:
        streamed = await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)
        plain = await client.call_tool("ask", {"question": QUESTION})
    assert not streamed.is_error, _text(streamed)
    assert isinstance(streamed.structured_content, dict) and isinstance(plain.structured_content, dict)
    assert len(pieces) > 1
    assert "".join(pieces) == streamed.structured_content["answer"]
    # Streaming changes how the answer travels, not what it is.
    assert streamed.structured_content["answer"] == plain.structured_content["answer"]
    assert streamed.structured_content["citations"] == plain.structured_content["citations"]
    assert values == sorted(values) and len(set(values)) == len(values)  # progress only increases


async def test_heartbeats_while_the_upstream_is_silent(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_config(tmp_path / "bridge.toml", sandbox.url, [("support", 1)], keepalive=0.5)
    heartbeats: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message is None:
            heartbeats.append(progress)

    async with stdio_bridge(env={}, config=config) as client:
        sandbox.arm_fault("latency", count=1, path=MESSAGES, latency=2.5)
        result = await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)
    assert not result.is_error, _text(result)
    assert len(heartbeats) >= 2


async def test_cancelled_call_closes_the_upstream_stream(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_config(tmp_path / "bridge.toml", sandbox.url, [("support", 1)])
    first_piece = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message:
            first_piece.set()

    before = sandbox.stats()["streams_disconnected"]
    async with stdio_bridge(env={}, config=config) as client:
        sandbox.arm_fault("slow", count=1, path=MESSAGES, drip=1.0)
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)

            tg.start_soon(call)
            with anyio.fail_after(30):
                await first_piece.wait()
            tg.cancel_scope.cancel()

        with anyio.fail_after(15):
            while sandbox.stats()["streams_disconnected"] <= before:  # noqa: ASYNC110 - another process's counter
                await anyio.sleep(0.1)
        # The bridge is still serving after the cancellation.
        after = await client.call_tool("list_sources", {})
    assert not after.is_error
