"""`agent-bridge stdio`: every configured agent over stdin/stdout (Claude Desktop, supergateway --stdio).

Logs go to stderr only. The process ends cleanly at end of input and on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import Final

import anyio
from mcp.server.stdio import stdio_server

from mcp_server.agents import EVERYTHING, AgentRegistry
from mcp_server.config import BridgeConfig, add_config_argument, load
from mcp_server.conversations import seal_for
from mcp_server.mcp_face import AgentView, CallSettings, build_server

logger = logging.getLogger(__name__)

SIGNAL_GRACE_SECONDS: Final = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def call_settings(config: BridgeConfig) -> CallSettings:
    return CallSettings(
        deadline_seconds=config.server.call_deadline_seconds, keepalive_seconds=config.server.keepalive_seconds
    )


async def serve_stdio(config: BridgeConfig) -> None:
    async with AgentRegistry.open(config) as registry:
        view = AgentView(tuple(registry.visible(EVERYTHING)), EVERYTHING)
        logger.info("serving %d agent(s) over stdio: %s", len(view.agents), ", ".join(a.name for a in view.agents))
        server = build_server(lambda _ctx: view, seal_for(config), call_settings(config))
        async with anyio.create_task_group() as tg:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        logger.info("signal received; shutting down")
                        # The stdin reader sits in a thread that cancellation cannot interrupt; give
                        # in-flight work a moment, then leave without waiting for that read.
                        threading.Timer(SIGNAL_GRACE_SECONDS, os._exit, args=(0,)).start()
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(stop_on_signal)
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
            tg.cancel_scope.cancel()


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    anyio.run(serve_stdio, config)
    return 0
