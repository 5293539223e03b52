"""`agent-bridge stdio`: every configured agent over stdin/stdout (Claude Desktop, supergateway --stdio).

Logs go to stderr only. The process ends cleanly, with exit code 0, at end of input and on SIGTERM or
SIGINT: the server is cancelled, the upstream connections are closed, and nothing waits for input.
stdin is read by a daemon thread (see `DaemonStdin`), so a read blocked on a silent client neither
delays the exit nor keeps the process alive.
"""

from __future__ import annotations

import argparse
import codecs
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, Final, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream
from mcp import types
from mcp.server.stdio import stdio_server
from mcp.shared._context_streams import ContextSendStream
from mcp.shared.message import SessionMessage

from mcp_server.agents import EVERYTHING, AgentRegistry, AgentView, seal_for
from mcp_server.config import BridgeConfig
from mcp_server.config_loading import add_config_argument, load
from mcp_server.jsonrpc_screen import BYTE_ORDER_MARK, screen
from mcp_server.mcp_face import build_server
from mcp_server.operation_runner import CallSettings
from mcp_server.telemetry import tracing

logger = logging.getLogger(__name__)

_READ_SIZE: Final = 65536


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def call_settings(config: BridgeConfig) -> CallSettings:
    return CallSettings(
        deadline_seconds=config.server.call_deadline_seconds, keepalive_seconds=config.server.keepalive_seconds
    )


class DaemonStdin(anyio.AsyncFile[str]):
    """Lines of a file descriptor (stdin), read by a daemon thread and handed to the event loop.

    The SDK reads stdin with `anyio.wrap_file`, whose reads run in a worker thread that cancellation
    waits for and that the interpreter joins at exit: one read blocked on a client that sends
    nothing holds the process. Here a cancelled read returns at once, and the thread, a daemon
    reading the raw descriptor (no buffered-reader lock to trip over at shutdown), dies with the
    process. Lines are decoded as UTF-8 with replacement, like the SDK's own reader.

    Each line is screened first (`jsonrpc_screen`): a byte-order mark is dropped, blank lines are skipped,
    and a line the SDK would drop in silence is answered here with its JSON-RPC error (through the
    stream given to `answer_refusals_to`) instead of reaching the SDK, so no client waits for a timeout.

    `before_other_messages`, when given, is awaited once, before the first line that is not an
    `initialize` request goes on (that line and every later one wait for it, so their order is kept).
    """

    def __init__(self, fd: int = 0, before_other_messages: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__(sys.stdin)  # satisfies the SDK's type; only the iteration below is used
        self._fd = fd
        self._before_other_messages = before_other_messages
        self._replies: ContextSendStream[SessionMessage] | None = None
        self._replies_ready = anyio.Event()

    def answer_refusals_to(self, replies: ContextSendStream[SessionMessage]) -> None:
        self._replies = replies
        self._replies_ready.set()

    @asynccontextmanager
    async def _closing_replies(self) -> AsyncGenerator[None]:
        """At end of input, close the refusal stream too: the SDK's writer ends when all its senders have."""
        try:
            yield
        finally:
            if self._replies is not None:
                self._replies.close()

    async def _refuse(self, error: types.JSONRPCError) -> None:
        await self._replies_ready.wait()
        assert self._replies is not None
        logger.debug("stdio line refused: %s", error.error.message)
        await self._replies.send(SessionMessage(error))

    async def readline(self) -> str:  # pragma: no cover - the SDK only iterates
        async for line in self:
            return line
        return ""

    async def __aiter__(self) -> AsyncIterator[str]:
        send, receive = anyio.create_memory_object_stream[str](0)
        token = anyio.lowlevel.current_token()
        threading.Thread(target=self._read, args=(send, token), name="stdin reader", daemon=True).start()
        async with receive, self._closing_replies():
            async for raw in receive:
                line = raw.removeprefix(BYTE_ORDER_MARK)
                if not line.strip():
                    continue
                refusal = screen(line)
                if refusal is not None:
                    await self._refuse(refusal)
                    continue
                if self._before_other_messages is not None and not _is_initialize(line):
                    await self._before_other_messages()
                    self._before_other_messages = None
                yield line

    def _read(self, send: MemoryObjectSendStream[str], token: anyio.lowlevel.EventLoopToken) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        try:
            while True:
                try:
                    chunk = os.read(self._fd, _READ_SIZE)
                except OSError:
                    chunk = b""
                pending += decoder.decode(chunk, final=not chunk)
                *lines, pending = pending.split("\n")
                if not chunk and pending:
                    lines, pending = [*lines, pending], ""
                for line in lines:
                    anyio.from_thread.run(send.send, line + "\n", token=token)
                if not chunk:
                    break
            anyio.from_thread.run_sync(send.close, token=token)
        except (RuntimeError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return  # the server stopped listening (or the event loop is gone): nothing to deliver to


def _is_initialize(line: str) -> bool:
    with suppress(ValueError):
        message = json.loads(line)
        return isinstance(message, dict) and cast(dict[str, Any], message).get("method") == "initialize"
    return False


async def serve_stdio(config: BridgeConfig) -> None:
    # The environment mode names its agents after their upstream projects, which takes upstream requests
    # (and loading the upstream client). `initialize` needs no agent, so it is answered first, and the
    # names are asked for when the first other message arrives (the client's `notifications/initialized`,
    # sent once it has the answer); that message and the ones after it wait for the names. A client
    # then meets its `initialize` timeout however slow the upstream is, and the start stays within
    # half a second (benchmarks/README.md).
    async with AgentRegistry.open(config, discover_names=False) as registry:
        view = AgentView(tuple(registry.visible(EVERYTHING)), EVERYTHING)

        async def name_agents() -> None:
            nonlocal view
            if config.discover_agent_names:
                await registry.discover_names()
                view = AgentView(tuple(registry.visible(EVERYTHING)), EVERYTHING)
            logger.info("serving %d agent(s) over stdio: %s", len(view.agents), ", ".join(a.name for a in view.agents))

        server = build_server(lambda _ctx: view, seal_for(config), call_settings(config))
        async with anyio.create_task_group() as tg:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for signum in signals:
                        logger.info("%s received; shutting down", signal.Signals(signum).name)
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(stop_on_signal)
            stdin = DaemonStdin(before_other_messages=name_agents)
            async with stdio_server(stdin=stdin) as (read_stream, write_stream):
                stdin.answer_refusals_to(write_stream.clone())
                await server.run(read_stream, write_stream, server.create_initialization_options())
            tg.cancel_scope.cancel()  # end of input
    logger.info("stdio server stopped; upstream connections closed")


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    with tracing.exporting():  # OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed at exit
        anyio.run(serve_stdio, config)
    return 0
