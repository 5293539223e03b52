"""The gate every sandbox API request passes before its endpoint runs: it counts the request, adds the
process-wide `--latency`, checks the API key and applies any fault (see `faults.py`). Errors, its own
and the endpoint's `wire.Refused`, are written in the shape of the API the request went to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from starlette.requests import Request
from starlette.responses import Response

from mcp_server.sandbox import wire
from mcp_server.sandbox.faults import (
    RETRY_AFTER_SECONDS,
    STATUS_FAULTS,
    UNAVAILABLE_RETRY_AFTER_SECONDS,
    Fault,
    FaultBoard,
    UnknownFault,
    from_headers,
)
from mcp_server.sandbox.openai_api import openai_error
from mcp_server.sandbox.streams import ResetResponse, Stats

Handler = Callable[[Request], Awaitable[Response]]
ErrorWriter = Callable[[Request, wire.Refused, "dict[str, str] | None"], Response]


def customgpt_error(request: Request, refused: wire.Refused, headers: dict[str, str] | None = None) -> Response:
    return wire.error(request, refused.status, str(refused), headers)


def openai_shaped_error(request: Request, refused: wire.Refused, headers: dict[str, str] | None = None) -> Response:
    return openai_error(request, refused.status, str(refused), headers, code=refused.code, param=refused.param)


class Guard:
    def __init__(self, api_key: str, latency: float, faults: FaultBoard, stats: Stats) -> None:
        self._api_key = api_key
        self._latency = latency  # --latency: seconds before every API response
        self._faults = faults
        self._stats = stats

    def __call__(self, handler: Handler, error: ErrorWriter = customgpt_error) -> Handler:
        """`handler` behind the gate, its errors written by `error`."""

        async def endpoint(request: Request) -> Response:
            route = request.scope.get("route")
            self._stats.requests[getattr(route, "path", request.url.path)] += 1
            if self._latency:
                await anyio.sleep(self._latency)
            if request.headers.get("authorization") != f"Bearer {self._api_key}":
                return error(request, wire.Refused("API Token is either missing or invalid", 401), None)
            try:
                fault = from_headers(request.headers) or self._faults.take(request.url.path)
            except UnknownFault as exc:
                return error(request, wire.Refused(str(exc), 400), None)
            request.state.fault = fault
            if fault is not None:
                self._stats.faults[fault.kind] += 1
                early = await self._apply(request, fault, error)
                if early is not None:
                    return early
            try:
                return await handler(request)
            except wire.Refused as exc:
                return error(request, exc, None)

        return endpoint

    async def _apply(self, request: Request, fault: Fault, error: ErrorWriter) -> Response | None:
        """The fault's answer instead of the endpoint's, or None to let the endpoint run (after any delay)."""
        if fault.latency:
            await anyio.sleep(fault.latency)
        if fault.kind == "hang":
            self._stats.hanging += 1
            try:
                await _until_disconnected(request)
            finally:
                self._stats.hanging -= 1
            return Response(status_code=504)  # never sent: the client has gone
        if fault.kind in STATUS_FAULTS:
            status = STATUS_FAULTS[fault.kind]
            message = wire.CREDITS_MESSAGE if status == 429 else wire.STATUS_MESSAGES[status]
            retry_after = {429: RETRY_AFTER_SECONDS, 503: UNAVAILABLE_RETRY_AFTER_SECONDS}.get(status)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
            return error(request, wire.Refused(message, status), headers)
        if fault.kind == "malformed":
            return Response('{"status":"success","data":{"id":1,"openai_re', media_type="application/json")
        if fault.kind == "reset":
            return ResetResponse()
        if fault.kind == "slow" and not wire.wants_stream(request, await wire.json_body(request, strict=False)):
            await anyio.sleep(fault.drip)
        return None


async def _until_disconnected(request: Request) -> None:
    """Wait for the client to give up (the body is read first, so the next ASGI message is the disconnect)."""
    await request.body()
    while (await request.receive())["type"] != "http.disconnect":
        pass
