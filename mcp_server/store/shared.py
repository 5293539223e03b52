"""The shared store's connection: one Valkey/Redis client per process (`[store] url`), keys namespaced
`agent-bridge:<kind>:<id>`, and every failure to reach it turned into one `StoreUnavailableError`
sentence (what failed, what to do) for the calls that need it."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from mcp_server.errors import StoreUnavailableError

if TYPE_CHECKING:  # redis is imported when a store is configured: a bridge without one (stdio) starts faster
    from redis import asyncio as redis_asyncio

KEY_PREFIX: Final = "agent-bridge"
TIMEOUT_SECONDS: Final = 2.0


def digest(text: str) -> str:
    """A short, fixed-width stand-in for an opaque value in a key (no principal or id is stored as is)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def shown_location(url: str) -> str:
    """`host:port/db` of a store URL, without its password: what an error message may name."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path or "a Unix socket"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"


class SharedStore:
    def __init__(self, url: str) -> None:
        self.location = shown_location(url)
        self._url = url  # may hold a password: never shown, only compared
        from redis import asyncio as redis_asyncio

        self._client = redis_asyncio.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            health_check_interval=30,
            decode_responses=False,
        )

    def serves(self, url: str) -> bool:
        """Whether this connection is to the store at `url` (so a part of the process may use it too)."""
        return url == self._url

    @staticmethod
    def key(kind: str, *parts: str) -> str:
        return ":".join((KEY_PREFIX, kind, *parts))

    @asynccontextmanager
    async def reaching(self) -> AsyncGenerator[redis_asyncio.Redis]:
        """The client; a store that does not answer (down, full, refusing) becomes `StoreUnavailableError`."""
        from redis.exceptions import RedisError

        try:
            yield self._client
        except RedisError as exc:
            raise StoreUnavailableError(
                f"the shared store (Valkey/Redis at {self.location}) did not answer ({type(exc).__name__}); "
                "check that it is running and reachable from the bridge, then retry."
            ) from None

    async def aclose(self) -> None:
        await self._client.aclose()
