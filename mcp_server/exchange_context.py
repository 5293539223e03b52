"""The SDK's `DispatchContext` for one stateless request served in its own task.

`stateless_exchange` (handshake-era protocols) and `modern_exchange` (2026-07-28) both hand the SDK's
`serve_one` this context, as the SDK's own `_SingleExchangeDispatchContext`: the handler's notifications
(progress, log messages) go onto the request's response, and, with no way to receive a client's answer,
the server sends the client no requests. Each transport frames the notification its own way (the two
SDK paths they stand in for write different bytes), so the context is given the function that writes one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import ProgressToken, RequestId

NotificationWriter = Callable[[str, Mapping[str, Any] | None], Awaitable[None]]
"""Writes one notification (its method and params) onto the request's response."""


@dataclass(slots=True)
class OneExchange:
    """The dispatch context of one request whose notifications `write_notification` puts on its response."""

    transport: TransportContext
    request_id: RequestId
    message_metadata: ServerMessageMetadata
    write_notification: NotificationWriter
    progress_token: ProgressToken | None = None
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = False

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None) -> None:
        await self.write_notification(method, params)

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.notify("notifications/progress", params)
