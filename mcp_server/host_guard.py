"""DNS-rebinding protection in front of every route: the Host and Origin checks run first.

Before anything else looks at a request (authentication, passthrough, routing and its redirects, the
404 bodies that list agents), its `Host` must be one the bridge answers to and its `Origin`, when a
browser sends one, must be configured. The allow-lists are the SDK's `TransportSecuritySettings`,
built by `app.security_settings`; the SDK's transports check them again, which costs nothing.
"""

from __future__ import annotations

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.auth import Refusal

_WHY = {
    421: "This bridge does not answer to that Host name; add it to server.public_hosts if it is yours.",
    403: "Requests from that Origin are not allowed; add it to server.allowed_origins if it is yours.",
}


class HostOriginGuard:
    def __init__(self, app: ASGIApp, settings: TransportSecuritySettings) -> None:
        self.app = app
        self._check = TransportSecurityMiddleware(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = await self._check.validate_request(Request(scope), is_post=False)
            if refused is not None:
                status = refused.status_code
                await Refusal(status, _WHY.get(status, "The request was refused.")).response()(scope, receive, send)
                return
        await self.app(scope, receive, send)
