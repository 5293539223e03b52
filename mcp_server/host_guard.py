"""DNS-rebinding protection in front of every route: the Host and Origin checks run first.

Before anything else looks at a request (authentication, passthrough, routing and its redirects, the
404 bodies that list agents), its `Host` must be one the bridge answers to and its `Origin`, when a
browser sends one, must be the bridge's own (same origin as the Host it asked for) or configured.
This is the one check: the SDK transports behind it are built with their own check turned off.
"""

from __future__ import annotations

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.auth import refusal_response
from mcp_server.errors import Refusal


def _allowed(value: str, patterns: list[str]) -> bool:
    """`value` equals a pattern, or a `name:*` pattern's name followed by any port."""
    return any(value == p or (p.endswith(":*") and value.startswith(p[:-1])) for p in patterns)


class HostOriginGuard:
    def __init__(
        self, app: ASGIApp, settings: TransportSecuritySettings, cross_origin_paths: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self._hosts = [h.lower() for h in settings.allowed_hosts]
        self._origins = settings.allowed_origins
        # Public OAuth documents and endpoints browsers' clients call from any origin (CORS, no
        # cookies): their Host is checked, their Origin is not. A path ending in "/" covers its subtree.
        self._cross_origin = cross_origin_paths

    def _any_origin(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self._cross_origin)

    def refusal(self, headers: Headers, path: str = "") -> Refusal | None:
        host = headers.get("host", "").lower()
        if not _allowed(host, self._hosts):
            return Refusal(
                421, "This bridge does not answer to that Host name; add it to server.public_hosts if it is yours."
            )
        origin = headers.get("origin")
        same_origin = origin is not None and origin.lower() in (f"http://{host}", f"https://{host}")
        foreign = origin is not None and not same_origin and not _allowed(origin, self._origins)
        if foreign and not self._any_origin(path):
            return Refusal(
                403, "Requests from that Origin are not allowed; add it to server.allowed_origins if it is yours."
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = self.refusal(Headers(scope=scope), scope["path"])
            if refused is not None:
                await refusal_response(refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)
