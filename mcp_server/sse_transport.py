"""Legacy HTTP+SSE endpoints, each session bound to the caller that opened it.

A session id is never a credential: every message POST is authenticated on its own and must present
the credential of the principal that opened the stream (401 without one, 403 with another's).
Clients that send headers (the SDKs, mcp-remote, supergateway) repeat them on their POSTs. Cursor,
Windsurf and n8n paste `.../sse?token=T` and POST to whatever URL the stream announces, so for a
stream opened with `?token=` the announced messages URL carries the same `token` parameter: the
credential stays where the client put it, and reaches only the client that presented it.

Each stream path (`/sse`, `/agents/{agent}/sse`, `/projects/{id}/sse`) has its own messages path next
to it, and a session id is only ever accepted on the messages path of its stream.

The transport is the bridge's own (`sse_stream`): the SDK's wire (the `endpoint` event, `message`
events, pings, 202 "Accepted" for a message, 413 for a body over `server.max_body_bytes`) without the
SDK transport's tasks and streams per session.

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
import signal
import threading
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import anyio
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.message import ServerMessageMetadata, SessionMessage
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

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
from mcp_server.jsonrpc_screen import read
from mcp_server.mcp_face import AgentView
from mcp_server.request_body import read_body
from mcp_server.session_limits import StreamCounter
from mcp_server.sse_session import run_session
from mcp_server.sse_stream import SessionReader, SessionWriter, SseStream, answer_head
from mcp_server.telemetry.sessions import SessionClock
from mcp_server.worker_relay import WorkerRelay, is_node_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SseBinding:
    """Whose a session is (`identity`, who sees `view`), the messages path it is known on, its stream."""

    identity: Identity
    view: AgentView
    path: str
    stream: SseStream


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
        # The SDK's Host/Origin check (DNS rebinding), as its transport ran it on the GET and each POST;
        # the app turns it off when HostOriginGuard checks every route in front.
        self._security = TransportSecurityMiddleware(security)
        self._max_body_bytes = max_body_bytes
        self._tokens = tokens
        self._clock = SessionClock("sse")
        self._open = streams
        # With OAuth: the principal of the request's bearer access token (a refusal when it does not hold).
        self._oauth_principal = oauth_principal
        self._relay = relay  # `--workers N`: streams name their worker (`&node=`), POSTs are relayed to it
        self._bindings: dict[str, SseBinding] = {}  # by session id (32 hex digits)
        self._live: set[SseStream] = set()
        self._closing = False

    async def stream(self, scope: Scope, receive: Receive, send: Send, identity: Identity, view: AgentView) -> None:
        """Serve one SSE stream (the GET) for `identity`, who sees `view`."""
        if self._closing:
            raise Refusal(503, "The bridge is shutting down; open the stream again in a moment.")
        if scope["method"] == "HEAD":  # headers only, as the SDK's transport answered it: no session
            await answer_head(send)
            return
        # Plain calls rather than context managers: what stays alive for an idle stream's whole life is
        # kept small (benchmarks/README.md, finding 7).
        self._open.admit(identity)  # 429, or 503, when the caller (or the bridge) holds the most it may
        try:
            await self._stream(scope, receive, send, identity, view)
        finally:
            self._open.release(identity)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, identity: Identity, view: AgentView) -> None:
        refused = await self._security.validate_request(Request(scope), is_post=False)
        if refused is not None:
            await refused(scope, receive, send)
            return
        session = uuid4().hex
        path, endpoint = self._addresses(scope, session)
        live = SseStream(send, self._idle_seconds)
        self._bindings[session] = SseBinding(identity, view, path, live)
        self._live.add(live)
        self._clock.opened(session)
        try:
            await live.open(endpoint)
            if self._closing:
                live.close_when_idle()
            await live.serve(receive, self._run_session)
            # Unbind before the response ends: a client that sees the stream end and posts at once
            # must find no session (404), not a session that is still winding down (202 into nothing).
            self._bindings.pop(session, None)
            await live.finish()
            if live.closing:
                # The session id is redacted to session#<hash> by the log filter.
                logger.info("SSE stream %s closed for shutdown", session)
            elif live.expired:
                logger.info("SSE stream %s closed after %g s idle", session, self._idle_seconds)
        finally:
            self._clock.closed(session)
            self._live.discard(live)
            self._bindings.pop(session, None)

    def _addresses(self, scope: Scope, session: str) -> tuple[str, str]:
        """The stream's messages path, and the messages URL it announces: the path under the public base
        path, the session id, this worker's node (`--workers`), and a `?token=` credential repeated for
        clients that can only follow URLs."""
        request = Request(scope)
        path = messages_path(request.url.path.rstrip("/"), self._replica)
        root = (self._base_path or scope.get("root_path", "")).rstrip("/")
        echo = f"&node={self._relay.node}" if self._relay is not None else ""
        query_token = credential_in_query(request)
        echo += f"&token={quote(query_token, safe='')}" if query_token else ""
        return path, f"{quote(root + path)}?session_id={session}{echo}"

    async def _run_session(self, reader: SessionReader, writer: SessionWriter) -> None:
        await run_session(self._server, reader, writer)

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
        binding = self._bindings.get(request.query_params.get("session_id", ""))
        if binding is None or binding.path != request.url.path:
            await _no_session()(scope, receive, send)
            return
        await self._authorize(request, binding)
        scope.setdefault("state", {})["agent_view"] = binding.view
        await self._accept(request, binding.stream, send)

    async def _authorize(self, request: Request, binding: SseBinding) -> None:
        """Refuse (401/403) a POST that does not come from the principal that opened the stream."""
        bound = binding.identity.principal
        if bound == OPEN_PRINCIPAL:
            return
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

    async def _accept(self, request: Request, live: SseStream, send: Send) -> None:
        """Read the message, answer 202 "Accepted" and hand it to the session, as the SDK's transport did
        (413 for a body over the limit; a JSON-RPC error for one the SDK would not answer)."""
        scope, receive = request.scope, request.receive
        body, complete = await read_body(receive, self._max_body_bytes)
        if not complete:
            if len(body) > self._max_body_bytes:
                await Response("Request body too large", status_code=413)(scope, receive, send)
            return  # else the client went away before the body ended: no one to answer
        parsed = read(body)
        if parsed[1] is not None:
            refusal = parsed[1]
            logger.debug("SSE message POST refused: %s", refusal.error.message)
            await JSONResponse(refusal.model_dump(mode="json", exclude_unset=True), 400)(scope, receive, send)
            return
        refused = await self._security.validate_request(request, is_post=True)
        if refused is not None:
            await refused(scope, receive, send)
            return
        if not live.accepting:  # the stream ended since the lookup
            await _no_session()(scope, receive, send)
            return
        await Response("Accepted", status_code=202)(scope, receive, send)
        message = SessionMessage(parsed[0], metadata=ServerMessageMetadata(request_context=request))
        try:
            await live.deliver(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            logger.debug("SSE message dropped: its stream ended as it arrived")

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
