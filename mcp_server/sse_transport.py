"""Legacy HTTP+SSE endpoints, each session bound to the caller that opened it.

Cursor, Windsurf and n8n paste `.../sse?token=T`, then POST their messages to the path the stream
announces, carrying no credential at all. The SDK's `SseServerTransport` binds a session to
`scope["user"]` and would refuse those POSTs, so the binding lives here instead: the stream's first
event names the session; a POST with no credential acts as whoever opened the stream, a POST that
presents another principal's credential is refused with 403, and the binding ends with the stream.

Each stream path (`/sse`, `/agents/{agent}/sse`, `/projects/{id}/sse`) gets its own SDK transport and
messages path next to it, so a session id is only ever accepted on the messages path of its stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from mcp.server.lowlevel import Server
from mcp.server.sse import SseServerTransport
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from mcp_server.auth import OPEN_PRINCIPAL, Identity, Refusal, TokenBook, presented_credential, same_principal
from mcp_server.server import AgentView

_SESSION_IN_ENDPOINT: Final = re.compile(rb"session_id=([0-9a-f]{32})")


@dataclass(frozen=True, slots=True)
class SseBinding:
    identity: Identity
    view: AgentView


def messages_path(stream_path: str) -> str:
    """`/agents/support/sse` -> `/agents/support/messages/`."""
    return stream_path.rsplit("/", 1)[0] + "/messages/"


class SseSessions:
    def __init__(
        self, server: Server[Any], security: TransportSecuritySettings, max_body_bytes: int, tokens: TokenBook
    ) -> None:
        self._server = server
        self._security = security
        self._host_check = TransportSecurityMiddleware(security)
        self._max_body_bytes = max_body_bytes
        self._tokens = tokens
        self._transports: dict[str, SseServerTransport] = {}
        self._streams: dict[str, int] = {}  # open streams per messages path; a path's transport goes with its last
        self._bindings: dict[str, SseBinding] = {}

    def _transport(self, path: str) -> SseServerTransport:
        transport = self._transports.get(path)
        if transport is None:
            transport = SseServerTransport(
                path, security_settings=self._security, max_request_body_size=self._max_body_bytes
            )
            self._transports[path] = transport
        return transport

    async def rejected_host(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer 421/403 for a Host or Origin outside the allow-lists (DNS-rebinding protection)."""
        error = await self._host_check.validate_request(Request(scope, receive), is_post=False)
        if error is None:
            return False
        await error(scope, receive, send)
        return True

    async def stream(self, scope: Scope, receive: Receive, send: Send, identity: Identity, view: AgentView) -> None:
        """Serve one SSE stream (the GET) for `identity`, who sees `view`."""
        path = messages_path(Request(scope).url.path)
        transport = self._transport(path)
        self._streams[path] = self._streams.get(path, 0) + 1
        session: list[str] = []

        async def bind_session(message: Message) -> None:
            # The first event names the session's POST URL; bind that session to this caller.
            if not session and message["type"] == "http.response.body":
                found = _SESSION_IN_ENDPOINT.search(message.get("body", b""))
                if found:
                    session.append(found.group(1).decode())
                    self._bindings[session[0]] = SseBinding(identity, view)
            await send(message)

        try:
            async with transport.connect_sse(scope, receive, bind_session) as (read_stream, write_stream):
                await self._server.run(read_stream, write_stream, self._server.create_initialization_options())
        finally:
            if session:
                self._bindings.pop(session[0], None)
            self._streams[path] -= 1
            if not self._streams[path]:  # passthrough may open streams for any project id: keep no empty ones
                del self._streams[path], self._transports[path]

    async def message(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Accept one client message (the POST) for the session it names, as the session's caller."""
        request = Request(scope, receive)
        transport = self._transports.get(request.url.path)
        binding = self._bindings.get(request.query_params.get("session_id", ""))
        if transport is None or binding is None:
            await JSONResponse(
                {"error": "not_found", "message": "No such SSE session; open a new one with GET on the /sse URL."},
                status_code=404,
            )(scope, receive, send)
            return
        credential = presented_credential(request)
        bound = binding.identity.principal
        if (
            credential is not None
            and bound != OPEN_PRINCIPAL
            and not same_principal(self._tokens.principal_of(credential), bound)
        ):
            raise Refusal(403, "This SSE session belongs to another token; open your own session with GET on /sse.")
        scope.setdefault("state", {})["agent_view"] = binding.view
        await transport.handle_post_message(scope, receive, send)
