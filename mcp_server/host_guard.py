"""DNS-rebinding protection in front of every route: the Host and Origin checks run first.

Before anything else looks at a request (authentication, passthrough, routing and its redirects, the
404 bodies that list agents), its `Host` must be one the bridge answers to and its `Origin`, when a
browser sends one, must be the bridge's own (same origin as the Host it asked for) or configured.
This is the one check: the SDK transports behind it are built with their own check turned off.
"""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.auth import refusal_response
from mcp_server.config import BridgeConfig
from mcp_server.errors import Refusal

LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "[::1]")


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


def host_patterns(name: str) -> list[str]:
    """The Host header values a configured name allows: the name on any port, or exactly `name:port`."""
    try:
        if ipaddress.ip_address(name.strip("[]")).version == 6:
            return [f"[{name.strip('[]')}]", f"[{name.strip('[]')}]:*"]
    except ValueError:
        pass
    if ":" in name:  # `host:port` or `[v6]:port`; HTTPS/HTTP clients leave out their default port
        host, _, port = name.lower().rpartition(":")
        return [name.lower(), host] if port in ("443", "80") else [name.lower()]
    return [name.lower(), f"{name.lower()}:*"]


def security_settings(config: BridgeConfig) -> TransportSecuritySettings:
    """DNS-rebinding protection: loopback names, `server.public_hosts` and a specific bind address."""
    hosts = [f"{h}:*" for h in LOOPBACK_HOSTS] + list(LOOPBACK_HOSTS)
    names = list(config.server.public_hosts)
    public = urlsplit(config.server.public_url) if config.server.public_url else None
    if public is not None and public.netloc:  # the bridge's own public name (OAuth clients and its sign-in page)
        names.append(public.netloc)
    if config.server.host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", "::1"):
        names.append(config.server.host)
    for name in names:
        hosts += host_patterns(name)
    # Browsers send Origin; only the bridge's own loopback origin (at its configured port) and the
    # configured ones may call it from a page. Clients that are not browsers send no Origin.
    origins = [f"http://{h}:{config.server.port}" for h in LOOPBACK_HOSTS] if config.server.port else []
    origins += list(config.server.allowed_origins)
    if public is not None and public.netloc:
        origins.append(f"{public.scheme}://{public.netloc}")
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)
