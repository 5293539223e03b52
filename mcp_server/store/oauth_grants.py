"""What the built-in OAuth authorization server remembers, behind a small async interface so that
replicas can share it (a Valkey/Redis store implements the same protocol).

Values are JSON text under (kind, key). Secrets the server hands out (authorization codes, refresh
tokens, sign-in tickets) are stored under their sha256, never as themselves. `take` reads and deletes
in one step: a code or a refresh token is good once. `first` keeps the first value put under a key,
so replicas that start together agree on one signing key.
"""

from __future__ import annotations

from typing import Literal, Protocol

GrantKind = Literal["client", "request", "ticket", "code", "refresh", "signing-key"]


class OAuthGrantStore(Protocol):
    async def put(self, kind: GrantKind, key: str, value: str, ttl_seconds: float | None) -> None: ...

    async def get(self, kind: GrantKind, key: str) -> str | None: ...

    async def take(self, kind: GrantKind, key: str) -> str | None:
        """The value, deleted in the same step (None when absent, expired or already taken)."""
        ...

    async def first(self, kind: GrantKind, key: str, value: str) -> str:
        """The value already under the key, else `value` (now stored, without expiry)."""
        ...
