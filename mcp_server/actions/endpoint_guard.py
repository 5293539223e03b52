"""The guard around every Actions route: one ASGI endpoint per path that answers any other method with a
JSON 405, a `Refusal` or `Failure` with its JSON body (and, with OAuth, the MCP endpoints' challenge), and
a bug of ours with one JSON sentence while the operator gets the traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mcp_server.actions.failures import INTERNAL, Failure, refused
from mcp_server.errors import Refusal
from mcp_server.refusal_guard import Challenge, no_challenge

# Logged under the routes' name, as it was before this module was split from mcp_server/actions/routes.py.
logger = logging.getLogger("mcp_server.actions.routes")

Handler = Callable[[Request], Awaitable[Response]]


class EndpointGuard:
    """An ASGI endpoint for `methods`: any other method gets a JSON 405, any `Failure` its JSON body."""

    def __init__(self, handler: Handler, *methods: str, challenge: Challenge = no_challenge) -> None:
        self._handler = handler
        self._methods = methods
        self._challenge = challenge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            if request.method not in self._methods:
                allowed = ", ".join(self._methods)
                raise Failure(405, f"Use {allowed} on this path.", "method_not_allowed")
            response = await self._handler(request)
        except Refusal as refusal:
            response = refused(refusal).response()
            response.headers.update(self._challenge(scope, refusal))  # with OAuth: as on the MCP endpoints
        except Failure as failure:
            response = failure.response()
            if failure.status == 405:
                response.headers["Allow"] = ", ".join(self._methods)
        except Exception:  # a bug of ours: the client reads one JSON sentence, the operator the traceback
            logger.exception("actions %s %s failed inside the bridge", request.method, request.url.path)
            response = Failure(500, INTERNAL, "internal_error").response()
        await response(scope, receive, send)
