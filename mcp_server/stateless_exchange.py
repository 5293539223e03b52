"""One stateless Streamable HTTP request at a handshake-era protocol (2025-11-25 and earlier), served
in the task that received it.

For every POST the SDK's stateless path builds a transport, two pairs of memory streams, a JSON-RPC
dispatcher, a message router and an SSE response, each with its own task or task group: about a
third of the bridge's CPU per `ask` (py-spy, `benchmarks/profile_ask.py`), more than the upstream
request itself. A POST that carries one well-formed JSON-RPC request needs none of it.
`serve_one_exchange` answers that case the way the SDK's own 2026-07-28 entry does, through
`serve_one` on a born-ready connection, and writes what the SDK's legacy transport writes:
`text/event-stream` with the same headers, an `event: message` frame per progress or log
notification, then the answer.

Everything else goes to the SDK unchanged (`serve_one_exchange` returns False): `initialize`,
notifications and responses, batches, bodies that do not parse or validate, a missing Accept or
Content-Type, 2026-07-28 requests (the SDK's modern entry is already single-exchange). The SDK owns
those answers.

Two details keep it indistinguishable from the legacy path for a client:
* The response starts at the first notification, at the answer, or after `COMMIT_AFTER_SECONDS`,
  whichever comes first (a fast answer goes out in one write); after that a comment line every
  `PING_SECONDS` keeps proxies from closing a quiet stream, as sse-starlette does.
* A client that disconnects cancels the call (its upstream request too), as `cancel_on_disconnect`
  (below) does for the stateless requests the SDK's legacy path serves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import anyio
import pydantic_core
from mcp.server.connection import Connection
from mcp.server.runner import serve_one
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data, progress_token_from_params
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import DEFAULT_NEGOTIATED_VERSION, ErrorData, JSONRPCError, JSONRPCRequest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.exchange_context import OneExchange

if TYPE_CHECKING:
    from mcp.server.lowlevel.server import Server

logger = logging.getLogger(__name__)

COMMIT_AFTER_SECONDS: Final = 1.0
PING_SECONDS: Final = 15.0
_HEADERS: Final = [  # the SDK's legacy transport's, as sse-starlette sends them
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"content-type", b"text/event-stream"),
    (b"x-accel-buffering", b"no"),
]


def _frame(message: Mapping[str, Any]) -> bytes:
    return b"event: message\r\ndata: " + pydantic_core.to_json(message) + b"\r\n\r\n"


class _EventStream:
    """The response: started lazily, written by the call and by the keep-alive task in turn."""

    def __init__(self, send: Send) -> None:
        self._send = send
        # asyncio's own Lock, not anyio's: anyio's yields to the event loop before taking a free lock
        # (with 1,000 streams that put every progress notification behind the whole ready queue once
        # more before it was written) and, even with `fast_acquire`, looks up the current task and
        # its cancel scope; asyncio's takes a free lock with a flag (benchmarks/README.md, streaming).
        self._lock = asyncio.Lock()
        self.started = False

    async def start(self) -> None:
        async with self._lock:
            await self._start()

    async def write(self, chunk: bytes, *, last: bool = False) -> None:
        async with self._lock:
            await self._start()
            await self._send({"type": "http.response.body", "body": chunk, "more_body": not last})

    async def _start(self) -> None:
        if not self.started:
            self.started = True
            await self._send({"type": "http.response.start", "status": 200, "headers": _HEADERS})

    async def ping(self) -> None:
        await self.write(f": ping - {datetime.now(UTC)}\r\n\r\n".encode())

    async def notify(self, method: str, params: Mapping[str, Any] | None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = dict(params)
        await self.write(_frame(message))


def _content_type_is_json(request: Request) -> bool:
    """The SDK transport's own test (`_check_content_type`)."""
    parts = request.headers.get("content-type", "").split(";")[0].split(",")
    return any(part.strip() == "application/json" for part in parts)


def is_modern(request: Request) -> bool:
    """Whether the SDK serves `request` on its 2026-07-28 single-exchange entry (its own routing rule)."""
    version = request.headers.get("mcp-protocol-version")
    return version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS


def _one_request(request: Request, body: bytes) -> JSONRPCRequest | None:
    """The request this module serves, or None when the SDK should answer the POST."""
    if is_modern(request):
        return None
    has_json, has_sse = check_accept_headers(request)
    if not (has_json and has_sse and _content_type_is_json(request)):
        return None
    try:  # a notification (no id), a batch or a body that is not JSON fails here
        message = JSONRPCRequest.model_validate_json(body, by_name=False)
    except ValidationError:
        return None
    return None if message.method == "initialize" else message


async def _keep_alive_until_disconnect(receive: Receive, stream: _EventStream, call: anyio.CancelScope) -> None:
    """Start the response if the call is slow, ping it while quiet, cancel the call if the client leaves."""
    wait = COMMIT_AFTER_SECONDS
    while True:
        with anyio.move_on_after(wait):
            while (await receive())["type"] != "http.disconnect":
                pass
            call.cancel()
            return
        if stream.started:
            await stream.ping()
        else:
            await stream.start()
        wait = PING_SECONDS


async def serve_one_exchange(app: Server[Any], lifespan_state: Any, request: Request, body: bytes, send: Send) -> bool:
    """Answer a stateless POST whose complete `body` is one JSON-RPC request; False: not such a POST
    (nothing was sent, the SDK should answer it). The request's `receive` is past the body."""
    message = _one_request(request, body)
    if message is None:
        return False
    stream = _EventStream(send)
    exchange = OneExchange(
        transport=TransportContext(kind="streamable-http", can_send_request=False),
        request_id=message.id,
        message_metadata=ServerMessageMetadata(request_context=request),
        write_notification=stream.notify,
        progress_token=progress_token_from_params(message.params),
    )
    version = request.headers.get("mcp-protocol-version", DEFAULT_NEGOTIATED_VERSION)
    connection = Connection.from_envelope(version, None, None)
    async with anyio.create_task_group() as watcher:
        watcher.start_soon(_keep_alive_until_disconnect, request.receive, stream, watcher.cancel_scope)
        try:
            result = await serve_one(
                app, exchange, message.method, message.params, connection=connection, lifespan_state=lifespan_state
            )
            answer = _frame({"jsonrpc": "2.0", "id": message.id, "result": result})
        except Exception as exc:  # the JSON-RPC dispatcher's mapping, as the legacy path answers
            error = handler_exception_to_error_data(exc)
            if error is None:
                logger.exception("handler for %r raised", message.method)
                error = ErrorData(code=0, message=str(exc))
            reply = JSONRPCError(jsonrpc="2.0", id=message.id, error=error)
            answer = _frame(reply.model_dump(mode="json", by_alias=True, exclude_unset=True))
        await stream.write(answer, last=True)
        watcher.cancel_scope.cancel()
    return True


async def cancel_on_disconnect(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run `app`, cancelling it when the client goes away after sending its request.

    The stateless Streamable HTTP transport does not notice a client that disconnects mid-response, so
    a cancelled call would keep its upstream stream (and its credits) running. uvicorn answers every
    `receive()` after the body with `http.disconnect` once the peer is gone; a watcher waits for that.
    """
    body_read = anyio.Event()

    async def tracking_receive() -> Message:
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body_read.set()
        return message

    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            await body_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        await app(scope, tracking_receive, send)
        tg.cancel_scope.cancel()
