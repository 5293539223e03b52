"""Legacy HTTP+SSE endpoints, each session bound to the caller that opened it.

A session id is never a credential: every message POST is authenticated on its own and must present
the credential of the principal that opened the stream (401 without one, 403 with another's).
Clients that send headers (the SDKs, mcp-remote, supergateway) repeat them on their POSTs. Cursor,
Windsurf and n8n paste `.../sse?token=T` and POST to whatever URL the stream announces, so for a
stream opened with `?token=` the announced messages URL carries the same `token` parameter: the
credential stays where the client put it, and reaches only the client that presented it.

Each stream path (`/sse`, `/agents/{agent}/sse`, `/projects/{id}/sse`) gets its own SDK transport and
messages path next to it, so a session id is only ever accepted on the messages path of its stream.

Idle streams: a stream that has had no message and no call in flight for `server.session_idle_seconds`
ends (its session id is then unknown: 404), so abandoned streams do not stay open forever.

Shutdown: on SIGTERM/SIGINT (`closing_idle_streams_on_signal`) every stream with no call in flight
ends at once, so idle clients do not hold the server's graceful shutdown; a stream still owing the
answer to a call ends as soon as it has sent it (uvicorn's `server.shutdown_grace_seconds` bounds
the wait).
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import threading
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import Any, Final, Self
from urllib.parse import quote

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.sse import SseServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
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
from mcp_server.jsonrpc_screen import screen
from mcp_server.mcp_face import AgentView
from mcp_server.request_body import read_body, replaying
from mcp_server.session_limits import StreamCounter
from mcp_server.telemetry.sessions import SessionClock
from mcp_server.worker_relay import WorkerRelay, is_node_id

logger = logging.getLogger(__name__)
_SESSION_IN_ENDPOINT: Final = re.compile(rb"session_id=([0-9a-f]{32})")


@dataclass(frozen=True, slots=True)
class SseBinding:
    identity: Identity
    view: AgentView


@dataclass(eq=False, slots=True)
class _LiveStream:
    """One open SSE stream: its server run, and the client requests it still owes an answer."""

    scope: anyio.CancelScope
    calls: set[types.RequestId] = field(default_factory=set[types.RequestId])
    closing: bool = False
    last_active: float = field(default_factory=anyio.current_time)
    expired: bool = False

    async def expire_when_idle(self, idle_seconds: float) -> None:
        """End the stream once it has had no message and no call in flight for `idle_seconds`."""
        while True:
            await anyio.sleep(max(0.0, self.last_active + idle_seconds - anyio.current_time()))
            if not self.calls and anyio.current_time() - self.last_active >= idle_seconds:
                self.expired = True
                self.scope.cancel()
                return
            if self.calls:  # a call in flight keeps it alive; look again an idle period after now
                self.last_active = anyio.current_time()

    def close_when_idle(self) -> None:
        self.closing = True
        if not self.calls:
            self.scope.cancel()

    def received(self, item: SessionMessage | Exception) -> None:
        self.last_active = anyio.current_time()
        if not isinstance(item, SessionMessage):
            return
        message = item.message
        if isinstance(message, types.JSONRPCRequest):
            self.calls.add(message.id)
        elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
            request_id = (message.params or {}).get("requestId")
            if isinstance(request_id, int | str):  # a cancelled request gets no answer
                self.answered(request_id)

    def answered(self, request_id: types.RequestId | None) -> None:
        self.last_active = anyio.current_time()
        if request_id is not None:
            self.calls.discard(request_id)
        if self.closing and not self.calls:
            self.scope.cancel()


class _TrackedReader:
    """The server's read stream, noting each client request as owed (a `ReadStream`)."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception], live: _LiveStream) -> None:
        self._inner = inner
        self._live = live

    @property
    def last_context(self) -> object:  # the SDK restores the sender's context from it
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        item = await self._inner.receive()
        self._live.received(item)
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _TrackedWriter:
    """The server's write stream, noting each answer sent as no longer owed (a `WriteStream`)."""

    def __init__(self, inner: WriteStream[SessionMessage], live: _LiveStream) -> None:
        self._inner = inner
        self._live = live

    async def send(self, item: SessionMessage, /) -> None:
        await self._inner.send(item)
        if isinstance(item.message, types.JSONRPCResponse | types.JSONRPCError):
            self._live.answered(item.message.id)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        await self.aclose()


def messages_path(stream_path: str, replica: str | None = None) -> str:
    """`/agents/support/sse` -> `/agents/support/messages/`, or `/agents/support/messages/<replica>/` when
    this replica has a node id (so a balancer can route the POSTs to the replica holding the stream)."""
    return stream_path.rsplit("/", 1)[0] + "/messages/" + (f"{replica}/" if replica else "")


class SseSessions:
    def __init__(
        self,
        server: Server[Any],
        security: TransportSecuritySettings,
        max_body_bytes: int,
        tokens: TokenBook,
        streams: StreamCounter,
        relay: WorkerRelay | None = None,
        replica: str | None = None,
        oauth_principal: Callable[[Request], Awaitable[str]] | None = None,
        *,
        idle_seconds: float | None = None,
        base_path: str = "",
    ) -> None:
        self._server = server
        # `server.public_url`'s path (`/bridge` behind a proxy that strips it): the messages URL each
        # stream announces starts with it, so the client's POSTs come back through the proxy.
        self._base_path = base_path
        self._replica = replica  # `server.node_id`: named in each stream's messages path
        self._idle_seconds = idle_seconds  # None: streams never expire while open
        self._security = security
        self._max_body_bytes = max_body_bytes
        self._tokens = tokens
        self._clock = SessionClock("sse")
        self._open = streams
        # With OAuth: the principal of the request's bearer access token (a refusal when it does not hold).
        self._oauth_principal = oauth_principal
        self._relay = relay  # `--workers N`: streams name their worker (`&node=`), POSTs are relayed to it
        self._transports: dict[str, SseServerTransport] = {}
        self._streams: dict[str, int] = {}  # open streams per messages path; a path's transport goes with its last
        self._bindings: dict[str, SseBinding] = {}
        self._live: set[_LiveStream] = set()
        self._closing = False

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
        if self._closing:
            raise Refusal(503, "The bridge is shutting down; open the stream again in a moment.")
        with self._open.holding(identity), self._clock.holding():
            await self._stream(scope, receive, send, identity, view)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, identity: Identity, view: AgentView) -> None:
        request = Request(scope)
        path = messages_path(request.url.path.rstrip("/"), self._replica)
        transport = self._transport(path)
        self._streams[path] = self._streams.get(path, 0) + 1
        session: list[str] = []
        query_token = credential_in_query(request)
        echo = b"&token=" + quote(query_token, safe="").encode() if query_token else b""
        if self._relay is not None:
            echo = b"&node=" + self._relay.node.encode() + echo

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

        live = _LiveStream(anyio.CancelScope())
        self._live.add(live)
        try:
            announced = {**scope, "root_path": self._base_path} if self._base_path else scope
            async with transport.connect_sse(announced, receive, bind_session) as (read_stream, write_stream):
                if self._closing:
                    live.close_when_idle()
                with live.scope:
                    async with anyio.create_task_group() as watch:
                        if self._idle_seconds is not None:
                            watch.start_soon(live.expire_when_idle, self._idle_seconds)
                        await self._server.run(
                            _TrackedReader(read_stream, live),
                            _TrackedWriter(write_stream, live),
                            self._server.create_initialization_options(),
                        )
                        watch.cancel_scope.cancel()
                # Unbind before the response ends: a client that sees the stream end and posts at once
                # must find no session (404), not a transport that is still winding down (202 into nothing).
                if session:
                    self._bindings.pop(session[0], None)
                # Closing the write side ends the event stream cleanly (after anything already sent)
                # when the run was cut short by shutdown; otherwise it is closed already.
                await write_stream.aclose()
                if live.closing:
                    # The session id is redacted to session#<hash> by the log filter.
                    logger.info("SSE stream %s closed for shutdown", session[0] if session else "(unbound)")
                elif live.expired:
                    logger.info(
                        "SSE stream %s closed after %g s idle",
                        session[0] if session else "(unbound)",
                        self._idle_seconds,
                    )
        finally:
            self._live.discard(live)
            if session:
                self._bindings.pop(session[0], None)
            self._streams[path] -= 1
            if not self._streams[path]:  # passthrough may open streams for any project id: keep no empty ones
                del self._streams[path], self._transports[path]

    async def message(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Accept one client message (the POST) for the session it names, as the session's caller."""
        request = Request(scope, receive)
        replica = request.path_params.get("replica")
        if replica is not None and replica != self._replica:
            await _misrouted(replica, self._replica)(scope, receive, send)
            return
        node = request.query_params.get("node")
        if self._relay is not None and node is not None and node != self._relay.node:
            if not is_node_id(node):
                await _no_session()(scope, receive, send)
                return
            # The stream lives in another worker, which authenticates this request like a direct one.
            await self._relay.forward(node, scope, receive, send)
            return
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
            if bound.startswith("oauth:") and self._oauth_principal is not None:
                principal = await self._oauth_principal(request)
            else:
                principal = self._tokens.principal_of(credential)
            if bound.startswith("token:") and not principal.startswith("token:"):
                raise Refusal(401, f"The token is not valid. {HOW_TO_PASS_A_TOKEN}")  # junk, not someone else's
            if not same_principal(principal, bound):
                stream = request.url.path.removesuffix("messages/") + "sse"
                raise Refusal(
                    403, f"This SSE session belongs to another token; open your own session with GET on {stream}."
                )
        scope.setdefault("state", {})["agent_view"] = binding.view
        body, complete = await read_body(receive, self._max_body_bytes)
        if complete and (refused := _unparsable(body)) is not None:
            await refused(scope, receive, send)
            return
        try:
            await transport.handle_post_message(scope, replaying(body, complete, receive), send)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            # The stream ended between the lookup and the hand-over; nothing was answered yet.
            await _no_session()(scope, receive, send)

    @property
    def stopping(self) -> bool:
        """Whether shutdown has begun (a signal, or `close_idle_streams`)."""
        return self._closing

    def close_idle_streams(self) -> None:
        """Shutdown: end every stream with no call in flight now, and each other one once it has answered."""
        self._closing = True
        for live in list(self._live):
            live.close_when_idle()

    @contextmanager
    def closing_idle_streams_on_signal(self, *also: Callable[[], None]) -> Generator[None]:
        """While open, SIGTERM and SIGINT also call `close_idle_streams` (and each of `also`), after the
        handler already there (uvicorn's, which starts its graceful shutdown). Only in the main thread,
        over a Python handler."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        chained: dict[int, Callable[[int, FrameType | None], Any]] = {}

        def handler(signum: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(self.close_idle_streams)
            for close in also:
                loop.call_soon_threadsafe(close)
            chained[signum](signum, frame)

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if callable(previous):
                chained[sig] = previous
                signal.signal(sig, handler)
        try:
            yield
        finally:
            for sig, previous in chained.items():
                if signal.getsignal(sig) is handler:
                    signal.signal(sig, previous)


def _no_session() -> JSONResponse:
    return JSONResponse(
        {"error": "not_found", "message": "No such SSE session; open a new one with GET on the /sse URL."},
        status_code=404,
    )


def _misrouted(wanted: str, here: str | None) -> JSONResponse:
    """A message POST the balancer sent to the wrong replica: say so, for the operator to fix the routing."""
    return JSONResponse(
        {
            "error": "not_found",
            "message": f"This message is for the SSE session on replica '{wanted}' but reached replica "
            f"'{here}'. Route /messages/{wanted}/ paths to that replica (see configs/nginx.conf), or open a new "
            "session with GET on the /sse URL.",
        },
        status_code=404,
    )


def _unparsable(body: bytes) -> JSONResponse | None:
    """A JSON-RPC error for a message the SDK would not answer (it would log a traceback and answer plain
    text, or take a message with a null id for a notification): see `jsonrpc_screen`."""
    refusal = screen(body)
    if refusal is None:
        return None
    logger.debug("SSE message POST refused: %s", refusal.error.message)
    return JSONResponse(refusal.model_dump(mode="json", exclude_unset=True), 400)
