"""The built-in authorization server's HTTP surface: RFC 8414 metadata, the SDK's `/authorize`,
`/token`, `/register` and `/revoke` handlers over `BuiltInAuthorizationServer`, and the sign-in pages."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.routes import build_metadata, create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from pydantic import AnyHttpUrl
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, request_response

from mcp_server.auth import TokenBook
from mcp_server.config import BridgeConfig
from mcp_server.oauth.authorization_server import BuiltInAuthorizationServer
from mcp_server.oauth.issuer_keys import new_http_client
from mcp_server.oauth.sign_in import SignInPages
from mcp_server.store import InProcessOAuthGrantStore, OAuthGrantStore

METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


class BuiltInOAuth:
    def __init__(
        self,
        config: BridgeConfig,
        tokens: TokenBook,
        agent_names: Callable[[], list[str]],
        store: OAuthGrantStore | None = None,
    ) -> None:
        issuer = config.server.public_url
        assert issuer is not None  # the config requires it with [oauth]
        self.issuer = issuer
        self._http = new_http_client()
        self.server = BuiltInAuthorizationServer(
            issuer,
            store or InProcessOAuthGrantStore(),
            [agent.name for agent in config.agents],
            config.oauth.access_token_seconds,
            config.oauth.refresh_token_days * 86_400,
            config.oauth.leeway_seconds,
            self._http,
            config.oauth.client_metadata_documents,
        )
        self._pages = SignInPages(self.server, tokens, agent_names)
        self._registration = ClientRegistrationOptions(
            enabled=True, valid_scopes=self.server.scopes, default_scopes=self.server.scopes
        )
        self._revocation = RevocationOptions(enabled=True)

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        async with self._http:
            yield

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 metadata: PKCE S256 only, RFC 9207's `iss` response parameter, client ID metadata
        documents besides RFC 7591 registration."""
        document = build_metadata(AnyHttpUrl(self.issuer), None, self._registration, self._revocation).model_dump(
            mode="json", exclude_none=True
        )
        document["issuer"] = self.issuer  # exactly as tokens' `iss` says it (no trailing slash added)
        document["token_endpoint_auth_methods_supported"] = ["client_secret_post", "client_secret_basic", "none"]
        document["client_id_metadata_document_supported"] = self.server.client_documents
        document["authorization_response_iss_parameter_supported"] = True
        return document

    async def _metadata_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.metadata(), headers={"Cache-Control": "public, max-age=300"})

    def routes(self) -> list[Route]:
        handlers = create_auth_routes(
            self.server,
            AnyHttpUrl(self.issuer),
            client_registration_options=self._registration,
            revocation_options=self._revocation,
        )
        served = [route for route in handlers if route.path not in METADATA_PATHS]
        metadata = CORSMiddleware(
            request_response(self._metadata_endpoint), allow_origins=["*"], allow_methods=["GET", "OPTIONS"]
        )
        served += [Route(path, metadata, methods=["GET", "OPTIONS"]) for path in self.metadata_paths()]
        return served + list(self._pages.routes())

    def metadata_paths(self) -> list[str]:
        """Where the metadata is served: the root locations and, when `server.public_url` has a base
        path (`https://host/bridge`), the path-inserted ones clients try first
        (`/.well-known/oauth-authorization-server/bridge`, RFC 8414 §3.1). A proxy that strips the
        base path forwards `/bridge/.well-known/openid-configuration` to the root location."""
        base = urlsplit(self.issuer).path.rstrip("/")
        return [*METADATA_PATHS, *(f"{path}{base}" for path in METADATA_PATHS if base)]
