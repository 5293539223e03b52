"""One stateless Streamable HTTP request at protocol 2026-07-28, served in the task that received it.

The SDK's entry for this protocol (`handle_modern_request` in `mcp.server._streamable_http_modern`)
runs each request's handler as a second task beside a third that watches for a disconnect, and hands
every notification across a memory stream to the request's task, which writes it. For a POST that the
SDK would serve, `serve_modern_exchange` does the same work with one task fewer and no stream: the
handler runs in the request's task (through the SDK's `serve_one`, as the SDK does) and writes its
notifications itself; one watcher task pings a quiet stream and cancels the call if the client leaves.
It writes the bytes the SDK writes (the tests compare both entries byte for byte):

* the answer as `application/json`, with the HTTP status the SDK maps a JSON-RPC error to, when the
  handler ends before it notifies anything and within `PING_SECONDS`;
* otherwise `text/event-stream`, started by the first notification or after `PING_SECONDS` of
  silence (with a `: ping` comment), a comment every `PING_SECONDS` after that, the answer last.

Every check the SDK's entry makes before it dispatches is made here with the SDK's own functions, and
a POST that fails any of them (or a `subscriptions/listen`, whose answer is a notification stream)
goes to the SDK unchanged (`serve_modern_exchange` returns False), so the SDK still writes every
refusal. Served here: well-formed requests the SDK would dispatch, nothing else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, cast

import anyio
from mcp.server.connection import Connection
from mcp.server.runner import modern_error_data, serve_one
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    MCP_PARAM_HEADER_PREFIX,
    InboundModernRoute,
    classify_inbound_request,
    find_duplicated_routing_header,
    validate_mcp_param_headers,
)
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import JSONRPCError, JSONRPCNotification, JSONRPCRequest, RequestId
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Receive, Send

from mcp_server.exchange_context import OneExchange
from mcp_server.stateless_exchange import is_modern

if TYPE_CHECKING:
    from mcp.server.lowlevel.server import Server

logger = logging.getLogger(__name__)

PING_SECONDS: Final = 15.0  # the SDK's `_SSE_PING_INTERVAL`
_PING: Final = b": ping\r\n\r\n"
_SSE_HEADERS: Final = [  # the SDK's, in its order
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]
_PARAM_HEADER: Final = MCP_PARAM_HEADER_PREFIX.lower()


def _json(message: Mapping[str, Any]) -> str:
    """A message as the SDK's entry writes it (its `_write` and `_sse_event`: the model dumped without
    its None fields, as compact JSON)."""
    return json.dumps(message, separators=(",", ":"))


def _dumped(message: JSONRPCError | JSONRPCNotification) -> dict[str, Any]:
    return message.model_dump(mode="json", by_alias=True, exclude_none=True)


def _event(message: Mapping[str, Any]) -> bytes:
    return f"event: message\r\ndata: {_json(message)}\r\n\r\n".encode()


def _success(request_id: RequestId, result: dict[str, Any]) -> dict[str, Any]:
    """What the SDK's `JSONRPCResponse(id=..., result=...)` dumps to, built directly: its fields are never
    None and its `result` (already JSON from `serve_one`) is dumped as it is, None values and all."""
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


class _DeferredStream:
    """The response: undecided until the first notification (an event stream) or the answer (JSON)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._lock = asyncio.Lock()  # not anyio's: see stateless_exchange._EventStream
        self.started = False

    async def notify(self, method: str, params: Mapping[str, Any] | None) -> None:
        body = dict(params) if params is not None else None
        await self._write_more(_event(_dumped(JSONRPCNotification(jsonrpc="2.0", method=method, params=body))))

    async def ping(self) -> None:
        await self._write_more(_PING)

    async def _write_more(self, chunk: bytes) -> None:
        async with self._lock:
            await self._write(chunk, more=True)

    async def answer(self, reply: dict[str, Any] | JSONRPCError) -> None:
        """Write the answer: a successful one as `_success` builds it, or an error."""
        status = 200
        if isinstance(reply, JSONRPCError):
            status = ERROR_CODE_HTTP_STATUS.get(reply.error.code, 200)
            reply = _dumped(reply)
        async with self._lock:
            if self.started:
                await self._write(_event(reply), more=False)
                return
            body = _json(reply).encode()
            headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
            await self._send({"type": "http.response.start", "status": status, "headers": headers})
            await self._send({"type": "http.response.body", "body": body})

    async def _write(self, chunk: bytes, *, more: bool) -> None:
        if not self.started:
            self.started = True
            await self._send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await self._send({"type": "http.response.body", "body": chunk, "more_body": more})


def _param_headers_refused(app: Server[Any], request: Request, call: JSONRPCRequest) -> bool:
    """Whether the SDK would refuse the call's `Mcp-Param-*` headers (or could not tell without
    listing the tools, which it then does itself): its `_mcp_param_rejection`, for a server that
    names its tools' input schemas."""
    if call.method != "tools/call":
        return False
    params = call.params or {}
    name = params.get("name")
    arguments = params.get("arguments")
    if not isinstance(name, str) or (arguments is not None and not isinstance(arguments, Mapping)):
        return False
    arguments = cast(Mapping[str, Any], arguments or {})
    if not arguments and not any(header.startswith(_PARAM_HEADER) for header in request.headers):
        return False
    if app.get_tool_input_schema is None:
        return True
    try:
        schema = app.get_tool_input_schema(name)
    except Exception:  # the SDK logs this and goes on: let it
        return True
    return schema is not None and validate_mcp_param_headers(schema, arguments, request.headers) is not None


def _servable(app: Server[Any], request: Request, body: bytes) -> tuple[JSONRPCRequest, InboundModernRoute] | None:
    """The request and its route when the SDK's entry would dispatch this POST; None: the SDK answers it."""
    if not is_modern(request):
        return None
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        return None  # the SDK's transport security check: 400
    has_json, has_sse = check_accept_headers(request)
    if not (has_json and has_sse):
        return None  # 406
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None  # parse error
    if not isinstance(decoded, dict) or "id" not in decoded:
        return None  # a notification (202) or a body that is not one request
    try:
        call = JSONRPCRequest.model_validate(decoded)
    except ValidationError:
        return None
    if call.method == "subscriptions/listen" or find_duplicated_routing_header(request.headers.items()) is not None:
        return None
    route = classify_inbound_request(cast(dict[str, Any], decoded), headers=dict(request.headers))
    if not isinstance(route, InboundModernRoute) or _param_headers_refused(app, request, call):
        return None
    return call, route


async def _ping_until_disconnect(receive: Receive, stream: _DeferredStream, call: anyio.CancelScope) -> None:
    """Ping a quiet response every PING_SECONDS (starting it if need be); cancel the call if the client leaves."""
    while True:
        with anyio.move_on_after(PING_SECONDS):
            while (await receive())["type"] != "http.disconnect":
                pass
            call.cancel()
            return
        await stream.ping()


async def serve_modern_exchange(
    app: Server[Any], lifespan_state: Any, request: Request, body: bytes, send: Send
) -> bool:
    """Answer a 2026-07-28 POST whose complete `body` is one JSON-RPC request the SDK would dispatch;
    False: not such a POST (nothing was sent, the SDK should answer it). `request.receive` is past the body."""
    servable = _servable(app, request, body)
    if servable is None:
        return False
    call, route = servable
    stream = _DeferredStream(send)
    exchange = OneExchange(
        transport=TransportContext(kind="streamable-http", can_send_request=False, headers=request.headers),
        request_id=call.id,
        message_metadata=ServerMessageMetadata(request_context=request),
        write_notification=stream.notify,
        progress_token=progress_token_from_params(call.params),
    )
    connection = Connection.from_envelope(route.protocol_version, route.client_info, route.client_capabilities)
    async with anyio.create_task_group() as watcher:
        watcher.start_soon(_ping_until_disconnect, request.receive, stream, watcher.cancel_scope)
        try:
            result = await serve_one(
                app, exchange, call.method, call.params, connection=connection, lifespan_state=lifespan_state
            )
            reply: dict[str, Any] | JSONRPCError = _success(call.id, result)
        except Exception as exc:  # the SDK's mapping: its errors as they are, anything else an internal error
            reply = JSONRPCError(jsonrpc="2.0", id=call.id, error=modern_error_data(exc))
        await stream.answer(reply)
        watcher.cancel_scope.cancel()
    return True
