"""Slow-client defences for `agent-bridge serve`: a deadline for each request head.

uvicorn's own `timeout_keep_alive` timer is cancelled by the first byte that arrives, so a client that
sends half a request line and then trickles a byte every few seconds (a "slowloris") would hold its
connection — and a file descriptor — forever. `HeadTimeoutHttpToolsProtocol` (and its pure-Python twin
`HeadTimeoutH11Protocol`) gives every connection
`server.header_timeout_seconds` to deliver a complete request head (request line and all headers),
counted from the moment it connects or its previous response completed (keep-alive). Bytes that
arrive in between do not extend it. When it expires the connection gets `408 Request Timeout` and is
closed.

Only the head is timed: once the parser has a request's head, the clock stops, so a large body uploaded after
the head and a response that streams for minutes (SSE) are never cut by it.
"""

from __future__ import annotations

import asyncio
import functools
import http
from typing import Any, Literal, cast

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

_BODY = b"Request Timeout: the request head did not arrive in time"


class HeadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self._head_timer: asyncio.TimerHandle | None = None

    # The clock runs exactly while h11 waits for the client's next request head: the client's state is
    # IDLE on a new connection and again after `start_next_cycle` (both sides DONE with the previous
    # request). During a body upload the client is in SEND_BODY, during a response in DONE.
    def _sync_head_timer(self) -> None:
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if waiting and self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)
        elif not waiting and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._sync_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._sync_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._sync_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        # At debug level: a line per slow client would flood the log during an attack.
        client = f"{self.client[0]}:{self.client[1]} - " if self.client else ""
        self.logger.debug("%sno complete request head within %g s; closing", client, self.header_timeout)
        try:
            if self.conn.our_state is h11.IDLE:  # nothing of a response has gone out: say why
                headers = [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(_BODY)).encode()),
                    (b"connection", b"close"),
                ]
                reason = http.HTTPStatus.REQUEST_TIMEOUT.phrase.encode()
                response = h11.Response(status_code=408, headers=headers, reason=reason)
                self.transport.write(self.conn.send(response) or b"")
                self.transport.write(self.conn.send(h11.Data(data=_BODY)) or b"")
                self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
            self.conn.send(h11.ConnectionClosed())
        except h11.LocalProtocolError:
            pass  # h11 refuses in this state; closing is all that is left
        self.transport.close()


class HeadTimeoutHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (the C parser: a fraction of h11's CPU per request) with the same
    deadline for each request head. The clock runs from the connection's start, and from the end of each
    response with no pipelined request queued, until the parser has a complete head."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self._head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._head_timer is None and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        next_is_queued = bool(self.pipeline)
        super().on_response_complete()
        if not next_is_queued:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        # uvicorn types `cycle` as always set, but it is None until the first request arrives.
        cycle = cast("RequestResponseCycle | None", getattr(self, "cycle", None))
        serving = cycle is not None and not cycle.response_complete
        if self.transport.is_closing() or serving:
            return
        client = f"{self.client[0]}:{self.client[1]} - " if self.client else ""
        self.logger.debug("%sno complete request head within %g s; closing", client, self.header_timeout)
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
            + f"content-length: {len(_BODY)}\r\n".encode()
            + b"connection: close\r\n\r\n"
            + _BODY
        )
        self.transport.close()


def head_timeout_protocol(
    header_timeout: float, parser: Literal["httptools", "h11"] = "httptools"
) -> type[asyncio.Protocol]:
    """The `http=` protocol for uvicorn.Config: the httptools one (h11 is kept for `parser="h11"`) with its
    head deadline bound.

    A `functools.partial` of a module-level class, so it pickles by reference into `--workers N`
    processes. uvicorn only ever calls `http` with keyword arguments (config, server_state, app_state,
    _loop), as a class; the cast says so to the type checker.
    """
    protocol = HeadTimeoutHttpToolsProtocol if parser == "httptools" else HeadTimeoutH11Protocol
    return cast("type[asyncio.Protocol]", functools.partial(protocol, header_timeout=header_timeout))
