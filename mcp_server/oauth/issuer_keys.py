"""An external issuer's signing keys: its metadata (RFC 8414, else OpenID discovery) gives `jwks_uri`,
whose key set is cached and fetched again once when a token names a key id it does not hold (the
issuer rotated its keys); such refetches happen at most once a minute per issuer, so tokens with
made-up key ids cannot make the bridge hammer the issuer."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Final, cast
from urllib.parse import urlsplit

import anyio
import httpx2
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from mcp_server.errors import BridgeError

logger = logging.getLogger(__name__)

REFETCH_INTERVAL_SECONDS: Final = 60.0
FETCH_TIMEOUT_SECONDS: Final = 10.0


class IssuerUnavailable(BridgeError):
    """An issuer's metadata or key set could not be read (network, status, or shape)."""


def metadata_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata lives: RFC 8414's path-inserted location, then OpenID discovery's
    appended one (Keycloak, Auth0, Entra ID and oidc-provider publish the latter)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    origin = f"{parts.scheme}://{parts.netloc}"
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}{path}/.well-known/openid-configuration",
        f"{origin}/.well-known/openid-configuration{path}",
    ]


async def fetch_json(client: httpx2.AsyncClient, url: str) -> dict[str, Any] | None:
    """A JSON object from `url`, or None for a 404/other status or a body that is not one."""
    try:
        response = await client.get(url, headers={"Accept": "application/json"})
    except httpx2.HTTPError as exc:
        raise IssuerUnavailable(f"{url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return cast(dict[str, Any], body) if isinstance(body, dict) else None


async def issuer_metadata(client: httpx2.AsyncClient, issuer: str) -> dict[str, Any]:
    """The issuer's metadata document; its `issuer` must equal the configured one (RFC 8414 §3.3)."""
    for url in metadata_urls(issuer):
        document = await fetch_json(client, url)
        if document is None:
            continue
        if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
            raise IssuerUnavailable(f"{url} names issuer {document.get('issuer')!r}, not {issuer!r}")
        return document
    raise IssuerUnavailable(f"no metadata for issuer {issuer} (tried {', '.join(metadata_urls(issuer))})")


class IssuerKeys:
    """One issuer's metadata and key set, fetched on first use."""

    def __init__(self, issuer: str, client: httpx2.AsyncClient, clock: Any = time.monotonic) -> None:
        self.issuer = issuer
        self._client = client
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, PyJWK] = {}
        self._unnamed: list[PyJWK] = []  # keys without a `kid` (a token without one may use any)
        self._loaded = False
        self._refetched_at: float | None = None  # the last refetch an unknown key id caused
        self._lock = anyio.Lock()

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            self._metadata = await issuer_metadata(self._client, self.issuer)
        return self._metadata

    async def key(self, kid: str | None) -> PyJWK | None:
        """The signing key a token's header names; refetches the set once if the id is new."""
        found = self._lookup(kid)
        if found is not None:
            return found
        async with self._lock:
            found = self._lookup(kid)
            now = self._clock()
            recently = self._refetched_at is not None and now - self._refetched_at < REFETCH_INTERVAL_SECONDS
            if found is None and not self._loaded:
                await self._refresh()
                found = self._lookup(kid)
            elif found is None and not recently:  # the issuer may have rotated its keys: look once more
                self._refetched_at = now
                await self._refresh()
                found = self._lookup(kid)
        return found

    def _lookup(self, kid: str | None) -> PyJWK | None:
        if kid is None:
            return self._unnamed[0] if len(self._unnamed) == 1 and not self._keys else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        metadata = await self.metadata()
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise IssuerUnavailable(f"issuer {self.issuer} publishes no jwks_uri")
        document = await fetch_json(self._client, jwks_uri)
        if document is None:
            raise IssuerUnavailable(f"{jwks_uri} did not answer a JSON key set")
        try:
            key_set = PyJWKSet.from_dict(document)
        except (PyJWKError, PyJWKSetError) as exc:
            raise IssuerUnavailable(f"{jwks_uri}: no usable keys ({exc})") from None
        keys = [k for k in key_set.keys if k.public_key_use in (None, "sig")]
        self._keys = {k.key_id: k for k in keys if k.key_id is not None}
        self._unnamed = [k for k in keys if k.key_id is None]
        self._loaded = True
        logger.info("issuer %s: %d signing key(s)", self.issuer, len(keys))


def new_http_client() -> httpx2.AsyncClient:
    return httpx2.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False)
