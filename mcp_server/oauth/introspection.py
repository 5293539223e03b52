"""RFC 7662 introspection for opaque access tokens (`[oauth] introspection_url`): the identity
provider says whether a token is active and what it grants. The bridge authenticates with its own
client credentials, checks `active`, `iss` (when given), `aud` and `exp`, and remembers an answer for
at most `introspection_cache_seconds` (never past the token's expiry), keyed by the token's hash."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any, Final, cast

import httpx2

from mcp_server.oauth.access_tokens import TokenRejected, VerifiedToken, token_scopes
from mcp_server.oauth.issuer_keys import IssuerUnavailable

MAX_CACHED: Final = 10_000


class Introspection:
    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        issuers: Iterable[str],
        audiences: Iterable[str],
        cache_seconds: float,
        http: httpx2.AsyncClient,
    ) -> None:
        self._url = url
        self._auth = (client_id, client_secret)
        self._issuers = list(issuers)
        self._audiences = set(audiences)
        self._cache_seconds = cache_seconds
        self._http = http
        self._cache: dict[str, tuple[float, VerifiedToken]] = {}  # token hash -> (good until, answer)

    async def verify(self, token: str) -> VerifiedToken:
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        now = time.time()
        if cached is not None and cached[0] > now:
            return cached[1]
        claims = await self._ask(token)
        verified = self._check(claims, now)
        expires = min(float(claims["exp"]), now + self._cache_seconds)
        if self._cache_seconds > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                while len(self._cache) >= MAX_CACHED:
                    del self._cache[next(iter(self._cache))]  # the oldest
            self._cache[key] = (expires, verified)
        return verified

    async def _ask(self, token: str) -> dict[str, Any]:
        try:
            response = await self._http.post(
                self._url,
                data={"token": token, "token_type_hint": "access_token"},
                auth=self._auth,
                headers={"Accept": "application/json"},
            )
        except httpx2.HTTPError as exc:
            raise IssuerUnavailable(f"introspection: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise IssuerUnavailable(f"introspection answered HTTP {response.status_code}; check the bridge's client")
        try:
            body = json.loads(response.content)
        except ValueError:
            raise IssuerUnavailable("introspection did not answer JSON") from None
        if not isinstance(body, dict):
            raise IssuerUnavailable("introspection did not answer a JSON object")
        return cast(dict[str, Any], body)

    def _check(self, claims: dict[str, Any], now: float) -> VerifiedToken:
        if claims.get("active") is not True:
            raise TokenRejected("the access token is not active (expired, revoked or unknown)")
        issuer = claims.get("iss", self._issuers[0])
        if issuer not in self._issuers:
            raise TokenRejected("the access token's issuer is not one this bridge trusts")
        audience = claims.get("aud")
        audiences = {audience} if isinstance(audience, str) else set(cast(list[str], audience or []))
        if not audiences & self._audiences:
            raise TokenRejected("the access token was not issued for this bridge (its aud)")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires <= now:
            raise TokenRejected("the access token has expired; sign in again")
        client_id = claims.get("client_id")
        subject = claims.get("sub") or client_id
        if not isinstance(subject, str) or not subject:
            raise TokenRejected("the access token names no subject (sub) and no client (client_id)")
        return VerifiedToken(
            issuer=str(issuer),
            subject=subject,
            client_id=client_id if isinstance(client_id, str) else None,
            scopes=token_scopes(claims),
            claims=claims,
        )
