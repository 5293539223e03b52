"""Telling connected clients that the agent list changed (after a configuration reload).

Two eras, two channels:

* 2025-era sessions (stdio, HTTP+SSE, stateful Streamable HTTP) get `notifications/tools/list_changed`,
  `notifications/prompts/list_changed` and `notifications/resources/list_changed` on their session.
  A session is remembered (weakly: it is forgotten when it ends) once it has listed something, which
  is when a client starts to care.
* 2026-07-28 clients open a `subscriptions/listen` stream; the SDK's `ListenHandler` serves it and
  delivers the events published on the bus here, filtered to what each stream asked for.

Stateless 2025-era HTTP has no session to notify: those clients see the new lists on their next call
(the list results' cache hints bound how long they may keep the old ones).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Final

import anyio
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

logger = logging.getLogger(__name__)

NOTIFY_TIMEOUT_SECONDS: Final = 5.0  # a session whose client stopped reading does not hold the others


class ListChanges:
    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.bus)
        self._sessions: weakref.WeakSet[Connection] = weakref.WeakSet()

    def seen(self, ctx: ServerRequestContext[Any, Any]) -> None:
        """Remember a 2025-era session that listed tools, prompts or resources.

        The SDK hands handlers a per-request `ServerSession`; the session's lasting part is its
        `Connection` (one per stdio process, SSE stream or stateful HTTP session; one per request in
        stateless HTTP, so those are forgotten as soon as the request ends). `ServerSession` has no
        public accessor for it in mcp 2.3, hence the attribute lookup; without it nothing is remembered.
        """
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        connection = getattr(ctx.session, "_connection", None)
        if isinstance(connection, Connection):
            self._sessions.add(connection)

    async def announce(self) -> int:
        """Tell every listening client that the tools, prompts and resources changed; the number of
        2025-era sessions told."""
        for event in (ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()):
            await self.bus.publish(event)
        told = 0
        for session in list(self._sessions):
            try:
                with anyio.fail_after(NOTIFY_TIMEOUT_SECONDS):
                    await session.send_tool_list_changed()
                    await session.send_prompt_list_changed()
                    await session.send_resource_list_changed()
                told += 1
            except Exception as exc:  # a session that has ended or stalled: forget it, tell the others
                logger.debug("could not tell a session the lists changed (%s)", type(exc).__name__)
                self._sessions.discard(session)
        return told

    def close(self) -> None:
        """End every listen stream gracefully (at shutdown)."""
        self.listen.close()


__all__ = ["ListChanges"]
