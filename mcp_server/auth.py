"""Client tokens: where a request carries one, how it is checked, and what it may see.

Tokens are stored only as sha256 hex digests. A presented token is hashed and compared with every
configured digest by `hmac.compare_digest`, so the time taken does not depend on which (if any)
matched. A token's *name* may be logged; its value never is.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from mcp_server.agents import EVERYTHING, AccessScope
from mcp_server.config import TokenConfig


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented_credential(connection: HTTPConnection) -> str | None:
    """`Authorization: Bearer T`, then `X-API-Key: T`, then `?token=T` (for clients that cannot send headers)."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = connection.headers.get("x-api-key", "").strip()
    if api_key:
        return api_key
    token = connection.query_params.get("token", "").strip()
    return token or None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request acts as: a configured token's name and scope, or the open loopback mode."""

    name: str
    scope: AccessScope


OPEN_ACCESS = Identity(name="(no tokens configured)", scope=EVERYTHING)


class TokenBook:
    def __init__(self, tokens: tuple[TokenConfig, ...]) -> None:
        self._entries = [
            (bytes.fromhex(t.sha256), Identity(t.name, AccessScope.of(t.agents, t.tools, t.name))) for t in tokens
        ]

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def identify(self, token: str) -> Identity | None:
        digest = hashlib.sha256(token.encode()).digest()
        found: Identity | None = None
        for expected, identity in self._entries:
            if hmac.compare_digest(digest, expected):
                found = identity
        return found
