"""The built-in authorization server (`[oauth] built_in = true`) for teams with no identity provider.

The MCP SDK's handlers serve `/authorize` (PKCE S256 required), `/token`, `/register` (RFC 7591) and
`/revoke`; this is the provider behind them. `/authorize` sends the person to the bridge's sign-in
page (`sign_in.py`), where they paste a bridge token and consent; the code issued there becomes a
short-lived JWT access token for the bridge's resource, whose scopes are at most the pasted token's
agents, and a refresh token that is good once (each use returns a new one).

Clients register by RFC 7591, or name a client ID metadata document: a `client_id` that is an https
URL whose JSON document (fetched, at most 64 KiB) names itself and its redirect URIs.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import secrets
import socket
import time
from typing import Any, Final
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    IdentityAssertionParams,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import ValidationError

from mcp_server.oauth.access_tokens import AccessTokenVerifier, TokenRejected
from mcp_server.oauth.scopes import scopes_supported
from mcp_server.oauth.signing_key import SigningKey
from mcp_server.store import OAuthGrantStore

logger = logging.getLogger(__name__)

REQUEST_SECONDS: Final = 600.0  # from /authorize to the person's consent
CODE_SECONDS: Final = 300.0
CLIENT_DOCUMENT_SECONDS: Final = 3600.0
MAX_CLIENT_DOCUMENT_BYTES: Final = 65_536
LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def digest(secret: str) -> str:
    """The key a secret (code, refresh token, ticket) is stored under: never the secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


def acceptable_redirect_uri(uri: str) -> bool:
    """https anywhere; http only to a loopback address (desktop clients listening locally);
    also a private-use scheme (`cursor://...`) for native apps, never `javascript:`/`data:`."""
    parts = urlsplit(uri)
    if parts.fragment:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme == "http":
        return parts.hostname in LOOPBACK
    return "." in parts.scheme or parts.scheme in ("cursor", "vscode", "claude")


class BuiltInAuthorizationServer:
    """The SDK's `OAuthAuthorizationServerProvider`, over an `OAuthGrantStore`."""

    def __init__(
        self,
        issuer: str,
        store: OAuthGrantStore,
        agent_names: list[str],
        access_token_seconds: int,
        refresh_token_seconds: float,
        leeway_seconds: float,
        http: httpx2.AsyncClient,
        client_documents: bool = True,
    ) -> None:
        self.issuer = issuer
        self.store = store
        self.signing_key = SigningKey(store)
        self.scopes = scopes_supported(agent_names)
        self._access_seconds = access_token_seconds
        self._refresh_seconds = refresh_token_seconds
        self._verifier = AccessTokenVerifier({issuer: self.signing_key}, [issuer], leeway_seconds)
        self._http = http
        self.client_documents = client_documents

    # -- clients ---------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        stored = await self.store.get("client", client_id)
        if stored is not None:
            return OAuthClientInformationFull.model_validate_json(stored)
        if self.client_documents and client_id.startswith("https://"):
            return await self._client_from_document(client_id)
        return None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        bad = [str(u) for u in client_info.redirect_uris or () if not acceptable_redirect_uri(str(u))]
        if bad:
            raise RegistrationError(
                "invalid_redirect_uri", "redirect URIs must be https, or http on a loopback address (127.0.0.1)"
            )
        if client_info.scope is None:
            client_info.scope = " ".join(self.scopes)
        assert client_info.client_id is not None
        await self.store.put("client", client_info.client_id, client_info.model_dump_json(), None)
        logger.info("oauth: registered client %r", client_info.client_name or client_info.client_id)

    async def _client_from_document(self, url: str) -> OAuthClientInformationFull | None:
        """A client ID metadata document: the JSON at the https URL that is the client's id. Only from a
        public address: a client id is chosen by whoever calls /authorize, so it must not make the bridge
        read its own network (metadata services, admin ports)."""
        if not await resolves_to_public_addresses(url):
            logger.info("oauth: client id document refused: its host is not a public address")
            return None
        try:
            async with self._http.stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    return None
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_CLIENT_DOCUMENT_BYTES:
                        return None
        except httpx2.HTTPError:
            return None
        try:
            document = json.loads(body)
            if not isinstance(document, dict) or document.get("client_id") != url:
                return None
            fields: dict[str, Any] = {**document, "token_endpoint_auth_method": "none", "client_secret": None}
            fields.setdefault("scope", " ".join(self.scopes))
            client = OAuthClientInformationFull.model_validate(fields)
        except (ValueError, RecursionError, ValidationError):  # RecursionError: JSON nested too deep
            return None
        if not client.redirect_uris or not all(acceptable_redirect_uri(str(u)) for u in client.redirect_uris):
            return None
        await self.store.put("client", url, client.model_dump_json(), CLIENT_DOCUMENT_SECONDS)
        return client

    # -- authorization ---------------------------------------------------------------------------

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if params.resource is not None and not self._is_our_resource(params.resource):
            raise AuthorizeError("invalid_target", "this server issues tokens for this bridge only")
        request_id = secrets.token_urlsafe(24)
        pending = {"client_id": client.client_id, "params": params.model_dump(mode="json")}
        await self.store.put("request", request_id, json.dumps(pending), REQUEST_SECONDS)
        return f"{self.issuer}/oauth/sign-in?request={request_id}"

    def _is_our_resource(self, resource: str) -> bool:
        base = self.issuer.rstrip("/")
        return resource.rstrip("/") == base or resource.startswith(base + "/")

    async def issue_code(self, client_id: str, params: AuthorizationParams, subject: str, scopes: list[str]) -> str:
        code = secrets.token_urlsafe(32)
        grant = AuthorizationCode(
            code="",  # the code itself is not kept; it is the store key's preimage
            scopes=scopes,
            expires_at=time.time() + CODE_SECONDS,
            client_id=client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=self.issuer,
            subject=subject,
        )
        await self.store.put("code", digest(code), grant.model_dump_json(), CODE_SECONDS)
        return code

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        stored = await self.store.get("code", digest(authorization_code))
        if stored is None:
            return None
        grant = AuthorizationCode.model_validate_json(stored)
        if grant.client_id != client.client_id:
            return None
        return grant.model_copy(update={"code": authorization_code})

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        if await self.store.take("code", digest(authorization_code.code)) is None:
            raise TokenError("invalid_grant", "the authorization code was already used or has expired")
        assert authorization_code.subject is not None
        return await self._tokens(client, authorization_code.subject, authorization_code.scopes)

    # -- refresh ---------------------------------------------------------------------------------

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        stored = await self.store.get("refresh", digest(refresh_token))
        if stored is None:
            return None
        grant = RefreshToken.model_validate_json(stored)
        if grant.client_id != client.client_id:
            return None
        return grant.model_copy(update={"token": refresh_token})

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        if await self.store.take("refresh", digest(refresh_token.token)) is None:
            raise TokenError("invalid_grant", "the refresh token was already used, revoked or has expired")
        assert refresh_token.subject is not None
        return await self._tokens(client, refresh_token.subject, scopes)

    async def _tokens(self, client: OAuthClientInformationFull, subject: str, scopes: list[str]) -> OAuthToken:
        assert client.client_id is not None
        now = int(time.time())
        access = await self.signing_key.sign(
            {
                "iss": self.issuer,
                "aud": self.issuer,
                "sub": subject,
                "client_id": client.client_id,
                "scope": " ".join(scopes),
                "iat": now,
                "exp": now + self._access_seconds,
                "jti": secrets.token_urlsafe(16),
            }
        )
        refresh = secrets.token_urlsafe(32)
        grant = RefreshToken(
            token="",
            client_id=client.client_id,
            scopes=scopes,
            expires_at=int(now + self._refresh_seconds),
            resource=self.issuer,
            subject=subject,
        )
        await self.store.put("refresh", digest(refresh), grant.model_dump_json(), self._refresh_seconds)
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=self._access_seconds,
            scope=" ".join(scopes),
            refresh_token=refresh,
        )

    async def exchange_identity_assertion(
        self, client: OAuthClientInformationFull, params: IdentityAssertionParams
    ) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "this server does not accept identity assertions")

    # -- access tokens and revocation ------------------------------------------------------------

    async def load_access_token(self, token: str) -> AccessToken | None:
        try:
            verified = await self._verifier.verify(token)
        except TokenRejected:
            return None
        return AccessToken(
            token=token,
            client_id=verified.client_id or "",
            scopes=sorted(verified.scopes),
            subject=verified.subject,
            resource=self.issuer,
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        """A refresh token is forgotten; an access token (a JWT) simply runs out within minutes."""
        if isinstance(token, RefreshToken):
            await self.store.take("refresh", digest(token.token))


async def resolves_to_public_addresses(url: str) -> bool:
    """Whether every address the URL's host resolves to is a public (global) one. The fetch that follows
    resolves again; a host that changes its answer in between (DNS rebinding) is the remaining gap, narrowed
    by the short timeout and the absence of redirects."""
    host = urlsplit(url).hostname
    if not host:
        return False
    try:
        found = await anyio.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {ipaddress.ip_address(str(sockaddr[0]).split("%")[0]) for *_, sockaddr in found}
    return bool(addresses) and all(a.is_global for a in addresses)
