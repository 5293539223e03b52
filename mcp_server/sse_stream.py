"""One HTTP+SSE stream written straight onto its ASGI connection: the lean transport under `sse_transport`.

The wire is the one the MCP SDK's `SseServerTransport` (through sse-starlette's `EventSourceResponse`)
writes: the response headers (`text/event-stream; charset=utf-8`, `Cache-Control: no-store`,
`Connection: keep-alive`, `X-Accel-Buffering: no`), a first `endpoint` event whose data is the messages
URL, then one `message` event per JSON-RPC message the server sends (`event: message`, `data: <json>`,
CRLF line ends), a `: ping - <UTC time>` comment every 15 s, and the empty last chunk when the server
ends the stream (none once the client has gone). A HEAD gets the headers alone.

What it leaves out is their machinery, which an idle stream paid for (benchmarks/README.md, finding 7):
a task group of five tasks per response, three memory streams and a writer task between the server
session and the socket. Here a stream is its ASGI task, which writes the headers and the endpoint event
and then runs the MCP server session, and one plain asyncio task that watches the connection (the
client gone, the next keep-alive ping, the idle limit). The session's messages are framed and written
by whichever of its tasks sends them; a message POST hands the client's message to the session through
an unbuffered inbox (`sse_inbox`), with the POST's context, as the SDK's context streams do.

The stream also keeps what shutdown and idle expiry need: the client requests it still owes an answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Self

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage
from starlette.types import Receive, Send

from mcp_server.sse_inbox import Inbox

logger = logging.getLogger(__name__)

PING_SECONDS: Final = 15.0  # sse-starlette's default keep-alive interval, which the SDK's transport used
HEADERS: Final[list[tuple[bytes, bytes]]] = [
    (b"cache-control", b"no-store"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
    (b"content-type", b"text/event-stream; charset=utf-8"),
]
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
# Frames before the client's first request kept for the session (the SDK's _PRE_REQUEST_REPLAY_LIMIT).
FRAMES_BEFORE_REQUEST: Final = 8

Inbound = SessionMessage | Exception


def event_frame(event: str, data: str) -> bytes:
    """One SSE event as sse-starlette encodes it (CRLF line ends, one `data:` line per line of `data`)."""
    lines = "".join(f"data: {line}\r\n" for line in _LINE_BREAK.split(data))
    return f"event: {event}\r\n{lines}\r\n".encode()


def ping_frame() -> bytes:
    """The keep-alive comment sse-starlette sends (`: ping - 2026-12-02 21:30:00.123456+00:00`)."""
    return f": ping - {datetime.now(UTC)}\r\n\r\n".encode()


async def answer_head(send: Send) -> None:
    """A HEAD on a stream URL: the stream's headers and no body (no session is opened)."""
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class SseStream:
    """One open stream: its connection, its server session's inbox, and the calls it still owes.

    `scope` is the stream's lifetime: cancelling it ends the session (shutdown, idle expiry); the
    response is then still ended cleanly by `finish`."""

    __slots__ = (
        "_ended",
        "_idle_seconds",
        "_inbox",
        "_send",
        "calls",
        "closing",
        "disconnected",
        "expired",
        "last_active",
        "scope",
    )

    def __init__(self, send: Send, idle_seconds: float | None) -> None:
        self._send = send
        self._idle_seconds = idle_seconds  # None: the stream never expires while open
        self._inbox = Inbox[Inbound]()
        self._ended = False  # the response is complete: nothing more may be written
        self.scope = anyio.CancelScope()
        self.calls: set[types.RequestId] = set()
        self.closing = False
        self.expired = False
        self.disconnected = False
        self.last_active = anyio.current_time()

    # -- the response ------------------------------------------------------------------------------

    async def open(self, endpoint: str) -> None:
        """Start the response: the headers, then the `endpoint` event naming the messages URL."""
        await self._send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await self._write(event_frame("endpoint", endpoint))

    async def serve(self, receive: Receive, session: Callable[[SessionReader, SessionWriter], Awaitable[None]]) -> None:
        """Run the server `session` over this stream until it ends, the client leaves (its calls in
        flight are then cancelled), the stream has been idle too long, or `scope` is cancelled.

        The session runs in this (the request's) task; the connection is watched by one plain asyncio
        task beside it, not an anyio task group: a task group and its task hold ~4 KiB per stream."""
        watcher = asyncio.get_running_loop().create_task(self._watch(receive))
        try:
            with self.scope:
                await session(SessionReader(self), SessionWriter(self))
        finally:
            watcher.cancel()

    async def finish(self) -> None:
        """End the response (the empty last chunk), unless the client has gone or it has ended."""
        if self._ended or self.disconnected:
            return
        self._ended = True
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write(self, frame: bytes) -> None:
        if self._ended:
            raise anyio.ClosedResourceError
        # One frame, one ASGI message, which the server writes to the socket whole: the session's
        # messages and the keep-alive pings never interleave.
        await self._send({"type": "http.response.body", "body": frame, "more_body": True})

    async def _watch(self, receive: Receive) -> None:
        """Until the client leaves: a ping every PING_SECONDS, and the end of the stream once it has had
        no message and no call in flight for the idle limit. When the client has gone, the session's
        input ends (it winds down, cancelling its calls in flight)."""
        try:
            await self._watch_connection(receive)
        except Exception as exc:  # a failed ping write: the connection is gone
            logger.debug("SSE stream watch ended: %r", exc)
            self.disconnected = True
        if self.disconnected:
            self._inbox.close()

    async def _watch_connection(self, receive: Receive) -> None:
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + PING_SECONDS
        while True:
            wake = next_ping
            if self._idle_seconds is not None:
                wake = min(wake, self.last_active + self._idle_seconds)
            try:
                async with asyncio.timeout_at(wake):
                    if (await receive())["type"] == "http.disconnect":
                        self.disconnected = True
                        return
                    continue  # the GET's (empty) body: keep waiting
            except TimeoutError:
                pass
            now = loop.time()
            if now >= next_ping:
                await self._write(ping_frame())
                next_ping = loop.time() + PING_SECONDS  # sse-starlette sleeps 15 s after each ping
            if self._idle_seconds is not None and now - self.last_active >= self._idle_seconds:
                if self.calls:  # a call in flight keeps it alive; look again an idle period after now
                    self.last_active = now
                else:
                    self.expired = True
                    self.scope.cancel()  # the session ends
                    return

    # -- the client's messages and the session's answers --------------------------------------------

    @property
    def accepting(self) -> bool:
        """Whether the session still takes messages."""
        return not self._inbox.closed

    async def deliver(self, message: SessionMessage) -> None:
        """Hand a client message to the session, with the caller's context (the session's dispatcher
        runs its handler in it). Raises `anyio.BrokenResourceError` once the session has ended."""
        await self._inbox.put(message)

    async def take(self) -> tuple[contextvars.Context, Inbound]:
        """The next client message for the session, with its sender's context (`anyio.EndOfStream` once
        the client has gone)."""
        context, item = await self._inbox.get()
        self.received(item)
        return context, item

    def stop_taking(self) -> None:
        """The session reads no more: a message POSTed from now on is refused."""
        self._inbox.close()

    async def write_message(self, message: types.JSONRPCMessage) -> None:
        """Send one of the session's messages to the client as a `message` event."""
        await self._write(event_frame("message", message.model_dump_json(by_alias=True, exclude_unset=True)))
        if isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
            self.answered(message.id)

    def close_when_idle(self) -> None:
        """Shutdown: end now if no call is in flight, else as soon as the last one has been answered."""
        self.closing = True
        if not self.calls:
            self.scope.cancel()

    def received(self, item: Inbound) -> None:
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


class SessionReader:
    """The session's read side (a `ReadStream`): the client's messages, each noted on the stream.

    `first_request` reads ahead to the client's first request (which decides the protocol era, see
    `sse_session`); what it read is received again, in order, before anything newer."""

    __slots__ = ("_kept", "_stream", "last_context")

    def __init__(self, stream: SseStream) -> None:
        self._stream = stream
        self._kept: list[tuple[contextvars.Context, Inbound]] = []
        self.last_context: contextvars.Context | None = None  # the sender's, which the SDK restores

    async def first_request(self) -> types.JSONRPCRequest | None:
        """The client's first request, None if the input ends before one. Up to FRAMES_BEFORE_REQUEST
        frames that came before it are kept with it; further ones are dropped, as the SDK does."""
        while True:
            try:
                context, item = await self._stream.take()
            except anyio.EndOfStream:
                return None
            request = item.message if isinstance(item, SessionMessage) else None
            if isinstance(request, types.JSONRPCRequest) or len(self._kept) < FRAMES_BEFORE_REQUEST:
                self._kept.append((context, item))
            if isinstance(request, types.JSONRPCRequest):
                return request

    async def receive(self) -> Inbound:
        if self._kept:
            self.last_context, item = self._kept.pop(0)
        else:
            self.last_context, item = await self._stream.take()
        return item

    async def aclose(self) -> None:
        self._kept.clear()
        self._stream.stop_taking()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Inbound:
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


class SessionWriter:
    """The session's write side (a `WriteStream`): each message becomes a `message` event on the
    stream, and an answer no longer counts as owed."""

    __slots__ = ("_closed", "_stream")

    def __init__(self, stream: SseStream) -> None:
        self._stream = stream
        self._closed = False

    async def send(self, item: SessionMessage, /) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        await self._stream.write_message(item.message)

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        await self.aclose()
