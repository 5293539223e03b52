"""The bridge as an OAuth 2.1 protected resource: who a bearer JWT makes the caller, the RFC 9728
metadata that tells clients where to sign in, and the challenge on a refusal.

One resource identifier serves the whole bridge: `server.public_url`. It is the default audience,
so one token serves every endpoint its scopes allow; `[oauth] audience` adds more. The metadata is
served at `/.well-known/oauth-protected-resource` and at the path-inserted location of every
endpoint (`/.well-known/oauth-protected-resource/agents/support/mcp`, ...), all alike.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Final, cast
from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_server.agents import AccessScope
from mcp_server.auth import Identity, TokenBook
from mcp_server.config import BridgeConfig
from mcp_server.errors import Refusal
from mcp_server.oauth.access_tokens import (
    AccessTokenVerifier,
    KeySource,
    TokenRejected,
    VerifiedToken,
    looks_like_jwt,
)
from mcp_server.oauth.challenge import OAuthRefusal, bearer_challenge
from mcp_server.oauth.introspection import Introspection
from mcp_server.oauth.issuer_keys import IssuerKeys, IssuerUnavailable, new_http_client
from mcp_server.oauth.scopes import ALL_AGENTS, agent_scope, granted_agents, scopes_supported

logger = logging.getLogger(__name__)

WELL_KNOWN: Final = "/.well-known/oauth-protected-resource"
SIGN_IN_HINT: Final = "Sign in with OAuth (the client discovers how from this bridge), or send a bridge token."


def built_in_subject(token_name: str) -> str:
    return f"token:{token_name}"


class ProtectedResource:
    def __init__(
        self,
        config: BridgeConfig,
        tokens: TokenBook,
        agent_names: Callable[[], Iterable[str]],
        built_in: tuple[str, KeySource] | None = None,
    ) -> None:
        public_url = config.server.public_url
        assert public_url is not None  # the config requires it with [oauth]
        self.resource = public_url
        self._tokens = tokens
        self._agent_names = agent_names
        self._agents_claim = config.oauth.agents_claim
        self._claim_agents = config.oauth.claim_agents
        self._http = new_http_client()
        self._external = {issuer: IssuerKeys(issuer, self._http) for issuer in config.oauth.issuer}
        issuers: dict[str, KeySource] = dict(self._external)
        self._built_in_issuer = built_in[0] if built_in is not None else None
        if built_in is not None:
            issuers[built_in[0]] = built_in[1]
        self.authorization_servers = list(issuers)
        audiences = [public_url, *config.oauth.audience]
        self._verifier = AccessTokenVerifier(issuers, audiences, config.oauth.leeway_seconds)
        oauth = config.oauth
        self._introspection = (
            Introspection(
                oauth.introspection_url,
                oauth.introspection_client_id or "",
                oauth.introspection_client_secret.get_secret_value() if oauth.introspection_client_secret else "",
                oauth.issuer,
                audiences,
                oauth.introspection_cache_seconds,
                self._http,
            )
            if oauth.introspection_url is not None
            else None
        )

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        async with self._http:
            yield

    # -- who a token makes the caller --------------------------------------------------------------

    @property
    def reads_opaque_tokens(self) -> bool:
        return self._introspection is not None

    async def identify(self, bearer: str) -> Identity:
        try:
            if looks_like_jwt(bearer) or self._introspection is None:
                verified = await self._verifier.verify(bearer)
            else:
                verified = await self._introspection.verify(bearer)
        except TokenRejected as rejected:
            raise OAuthRefusal(401, f"The access token is not valid: {rejected}.", error="invalid_token") from None
        except IssuerUnavailable as exc:
            logger.warning("oauth: cannot read an issuer's keys: %s", exc)
            raise Refusal(
                503, "The identity provider cannot be reached right now (its keys or introspection); retry in a moment."
            ) from None
        return self._identity(verified)

    def _claimed_agents(self, token: VerifiedToken) -> tuple[str, ...]:
        """Agents the `[oauth] agents_claim` values map to (`groups = ["support-team"]`, ...)."""
        if self._agents_claim is None:
            return ()
        value: object = token.claims.get(self._agents_claim)
        values: list[object] = [value] if isinstance(value, str) else []
        if isinstance(value, list):
            values = list(cast(list[object], value))
        mapped = [agent for v in values for agent in self._claim_agents.get(str(v), ())]
        return tuple(mapped)

    def _identity(self, token: VerifiedToken) -> Identity:
        agents = granted_agents(token.scopes)
        if token.issuer != self._built_in_issuer:
            agents = tuple(sorted({*agents, *self._claimed_agents(token)}))
        label = f"oauth:{token.client_id or token.subject}"
        if token.issuer != self._built_in_issuer:
            return Identity(label, AccessScope.of(agents, ("*",), label), token.principal, oauth=True)
        # The built-in server's tokens stand for a bridge token: never more than it grants today.
        static = self._tokens.by_subject(token.subject)
        if static is None:
            raise OAuthRefusal(401, "The bridge token behind this sign-in no longer exists.", error="invalid_token")
        granted = None if "*" in agents else frozenset(agents)
        if static.scope.agents is not None:
            granted = static.scope.agents if granted is None else granted & static.scope.agents
        scope = AccessScope(granted, static.scope.tools, label, static.scope.reveals_config)
        return Identity(label, scope, token.principal, oauth=True)

    # -- discovery -------------------------------------------------------------------------------

    async def authorization_endpoints(self) -> tuple[str, str]:
        """Where a person signs in and where a client gets its tokens (the OpenAPI documents' OAuth
        flow): the built-in server's, else the first issuer's from its metadata."""
        if self._built_in_issuer is not None:
            return f"{self._built_in_issuer}/authorize", f"{self._built_in_issuer}/token"
        issuer = self.authorization_servers[0]
        try:
            metadata = await self._external[issuer].metadata()
        except IssuerUnavailable as exc:
            logger.warning("oauth: cannot read an issuer's metadata: %s", exc)
            raise Refusal(503, "The identity provider cannot be reached right now; retry in a moment.") from None
        authorize, token = metadata.get("authorization_endpoint"), metadata.get("token_endpoint")
        if not isinstance(authorize, str) or not isinstance(token, str):
            raise Refusal(503, f"The identity provider {issuer} names no authorization or token endpoint.")
        return authorize, token

    def metadata(self) -> dict[str, object]:
        return {
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "scopes_supported": scopes_supported(self._agent_names()),
            "bearer_methods_supported": ["header"],
            "resource_name": "Agent Bridge",
        }

    async def _metadata_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.metadata(), headers={"Cache-Control": "public, max-age=300"})

    def routes(self) -> list[Route]:
        def cors(endpoint: Callable[[Request], object]) -> CORSMiddleware:
            from starlette.routing import request_response

            app = request_response(endpoint)  # pyright: ignore[reportArgumentType]
            return CORSMiddleware(app, allow_origins=["*"], allow_methods=["GET", "OPTIONS"], allow_headers=["*"])

        endpoint = cors(self._metadata_endpoint)
        return [
            Route(WELL_KNOWN, endpoint, methods=["GET", "OPTIONS"]),
            Route(WELL_KNOWN + "/{path:path}", endpoint, methods=["GET", "OPTIONS"]),
        ]

    def metadata_url(self, path: str) -> str:
        """The path-inserted metadata location for an endpoint path (RFC 9728 §3.1)."""
        parts = urlsplit(self.resource)
        base = parts.path.rstrip("/")
        return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{base}{path.rstrip('/')}"

    def challenge(self, path: str, path_params: Mapping[str, str], refusal: Refusal) -> dict[str, str]:
        """The `WWW-Authenticate` header for a 401, or a 403 for want of scope; none otherwise."""
        if isinstance(refusal, OAuthRefusal):
            error, scope = refusal.error, refusal.scope
        elif refusal.status == 401:
            error, scope = "invalid_token", None
        else:
            return {}
        if scope is None:
            scope = agent_scope(path_params["agent"]) if "agent" in path_params else ALL_AGENTS
        description = str(refusal).replace('"', "'")
        return {"WWW-Authenticate": bearer_challenge(error, self.metadata_url(path), scope, description)}
