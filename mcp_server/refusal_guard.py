"""Endpoints whose refusals become JSON responses: a `Refusal` raised while handling a request is
counted (the refusals metric) and answered with its status and message, plus the OAuth challenge
header where the bridge is an OAuth protected resource (`Challenge`; the Actions facade uses the same)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mcp_server.auth import Refusal, refusal_response
from mcp_server.telemetry.metrics import REFUSALS

Challenge = Callable[[Scope, Refusal], dict[str, str]]
"""The `WWW-Authenticate` header for a refusal (the MCP endpoints' OAuth challenge), or none."""


def no_challenge(scope: Scope, refusal: Refusal) -> dict[str, str]:
    return {}


class Guarded:
    """A raw ASGI endpoint (not a request/response function) whose refusals become JSON responses,
    with the OAuth challenge header where the bridge is an OAuth protected resource."""

    def __init__(
        self, handler: Callable[[Scope, Receive, Send], Awaitable[None]], challenge: Challenge = no_challenge
    ) -> None:
        self._handler = handler
        self._challenge = challenge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._handler(scope, receive, send)
        except Refusal as refusal:
            REFUSALS.labels(str(refusal.status)).inc()
            await refusal_response(refusal, self._challenge(scope, refusal))(scope, receive, send)


def refusing(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """A request/response endpoint whose refusals become JSON responses (and count as refusals)."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Refusal as refusal:
            REFUSALS.labels(str(refusal.status)).inc()
            return refusal_response(refusal)

    return guarded
