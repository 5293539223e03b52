"""Legacy HTTP+SSE endpoints, each session bound to the caller that opened it.

A session id is never a credential: every message POST is authenticated on its own and must present
the credential of the principal that opened the stream (401 without one, 403 with another's).
Clients that send headers (the SDKs, mcp-remote, supergateway) repeat them on their POSTs. Cursor,
Windsurf and n8n paste `.../sse?token=T` and POST to whatever URL the stream announces, so for a
stream opened with `?token=` the announced messages URL carries the same `token` parameter: the
credential stays where the client put it, and reaches only the client that presented it.

Each stream path (`/sse`, `/agents/{agent}/sse`, `/projects/{id}/sse`) gets its own SDK transport and
messages path next to it, so a session id is only ever accepted on the messages path of its stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import anyio
from mcp.server.lowlevel import Server
from mcp.server.sse import SseServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from mcp_server.auth import (
    HOW_TO_PASS_A_TOKEN,
    OPEN_PRINCIPAL,
    Identity,
    Refusal,
    TokenBook,
    credential_in_query,
    presented_credential,
    same_principal,
)
from mcp_server.mcp_face import AgentView
from mcp_server.session_limits import StreamCounter

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
        self,
        server: Server[Any],
        security: TransportSecuritySettings,
        max_body_bytes: int,
        tokens: TokenBook,
        streams: StreamCounter,
    ) -> None:
        self._server = server
        self._security = security
        self._max_body_bytes = max_body_bytes
        self._tokens = tokens
        self._open = streams
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

    async def stream(self, scope: Scope, receive: Receive, send: Send, identity: Identity, view: AgentView) -> None:
        """Serve one SSE stream (the GET) for `identity`, who sees `view`."""
        with self._open.holding(identity):
            await self._stream(scope, receive, send, identity, view)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, identity: Identity, view: AgentView) -> None:
        request = Request(scope)
        path = messages_path(request.url.path.rstrip("/"))
        transport = self._transport(path)
        self._streams[path] = self._streams.get(path, 0) + 1
        session: list[str] = []
        query_token = credential_in_query(request)
        echo = b"&token=" + quote(query_token, safe="").encode() if query_token else b""

        async def bind_session(message: Message) -> None:
            # The first event names the session's POST URL; bind that session to this caller, and
            # repeat a `?token=` credential in that URL for clients that can only follow URLs.
            if not session and message["type"] == "http.response.body":
                body: bytes = message.get("body", b"")
                found = _SESSION_IN_ENDPOINT.search(body)
                if found:
                    session.append(found.group(1).decode())
                    self._bindings[session[0]] = SseBinding(identity, view)
                    message = {**message, "body": body[: found.end()] + echo + body[found.end() :]}
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
            await _no_session()(scope, receive, send)
            return
        bound = binding.identity.principal
        if bound != OPEN_PRINCIPAL:
            credential = presented_credential(request)
            if credential is None:
                raise Refusal(
                    401,
                    "A token is required on every message, not only on the stream: send the one that opened "
                    f"the stream. {HOW_TO_PASS_A_TOKEN}",
                )
            if not same_principal(self._tokens.principal_of(credential), bound):
                raise Refusal(403, "This SSE session belongs to another token; open your own session with GET on /sse.")
        scope.setdefault("state", {})["agent_view"] = binding.view
        try:
            await transport.handle_post_message(scope, receive, send)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            # The stream ended between the lookup and the hand-over; nothing was answered yet.
            await _no_session()(scope, receive, send)


def _no_session() -> JSONResponse:
    return JSONResponse(
        {"error": "not_found", "message": "No such SSE session; open a new one with GET on the /sse URL."},
        status_code=404,
    )
