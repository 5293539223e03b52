"""The built-in authorization server's grants in the shared store, so replicas agree on registered
clients, authorization codes, refresh tokens and the signing key.

One string per grant (`agent-bridge:oauth-<kind>:<digest>`) with the grant's own expiry. `take` is one
GETDEL (a code or refresh token is good once, even when two replicas race for it); `first` is SET NX
then GET (the first replica's signing key wins). A store that does not answer fails the call with
`StoreUnavailableError`: a grant cannot be checked without it."""

from __future__ import annotations

from mcp_server.store.oauth_grants import GrantKind
from mcp_server.store.shared import SharedStore, digest


def _text(raw: object) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else None


class SharedOAuthGrantStore:
    def __init__(self, store: SharedStore) -> None:
        self._store = store

    @staticmethod
    def _key(kind: GrantKind, key: str) -> str:
        return SharedStore.key(f"oauth-{kind}", digest(key))

    async def put(self, kind: GrantKind, key: str, value: str, ttl_seconds: float | None) -> None:
        expiry = None if ttl_seconds is None else max(1, int(ttl_seconds * 1000))
        async with self._store.reaching() as client:
            await client.set(self._key(kind, key), value.encode(), px=expiry)

    async def get(self, kind: GrantKind, key: str) -> str | None:
        async with self._store.reaching() as client:
            return _text(await client.get(self._key(kind, key)))

    async def take(self, kind: GrantKind, key: str) -> str | None:
        async with self._store.reaching() as client:
            return _text(await client.getdel(self._key(kind, key)))

    async def first(self, kind: GrantKind, key: str, value: str) -> str:
        stored = self._key(kind, key)
        async with self._store.reaching() as client:
            if await client.set(stored, value.encode(), nx=True):
                return value
            existing = _text(await client.get(stored))
        return existing if existing is not None else await self.first(kind, key, value)
