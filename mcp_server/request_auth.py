"""Who is calling and which agents they may use: each MCP request's credential (a bridge token, with
`[oauth]` an access token, in passthrough mode the caller's own upstream key) becomes an `Identity`
and an `AgentView`, and a refusal gets the OAuth challenge naming the scope that would do."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.types import Scope

from mcp_server.agents import AgentRegistry
from mcp_server.auth import (
    Identity,
    Refusal,
    TokenBook,
    authorization_bearer,
    passthrough_identity,
    presented_credential,
)
from mcp_server.endpoint_views import endpoint_view, passthrough_view, project_number
from mcp_server.mcp_face import AgentView
from mcp_server.oauth.access_tokens import looks_like_jwt
from mcp_server.oauth.challenge import OAuthRefusal
from mcp_server.oauth.protected_resource import SIGN_IN_HINT, ProtectedResource


class RequestAuth:
    def __init__(
        self,
        tokens: TokenBook,
        oauth: ProtectedResource | None,
        registry: Callable[[], AgentRegistry | None],
        *,
        passthrough: bool,
    ) -> None:
        self._tokens = tokens
        self._oauth = oauth
        self._current = registry  # None while starting or stopping
        self._passthrough = passthrough  # `[server]`: a reload never changes it

    def registry(self) -> AgentRegistry:
        registry = self._current()
        if registry is None:
            raise Refusal(503, "The bridge is not ready (starting or stopping); retry in a moment.")
        return registry

    def challenge(self, scope: Scope, refusal: Refusal) -> dict[str, str]:
        if self._oauth is None:
            return {}
        params: dict[str, str] = dict(scope.get("path_params", {}))
        if "project_id" in params and "agent" not in params:
            agent = self._project_agent(params["project_id"])
            if agent is not None:  # the scope that would do: the agent the project maps to
                params["agent"] = agent
        return self._oauth.challenge(scope["path"], params, refusal)

    def _project_agent(self, project: str) -> str | None:
        """The agent a `/projects/{id}/` URL serves, for the challenge's scope (`agent:*` when none).
        Agent names are public with OAuth on (the metadata's `scopes_supported` lists them all); a
        token that may not use the agent still gets the 404 of a missing project (no probing)."""
        project_id = project_number(project)
        registry = self._current()
        if registry is None or project_id is None:
            return None
        agent = registry.by_project(project_id)
        return agent.name if agent is not None else None

    async def authenticate(self, request: Request, credential: str | None) -> Identity:
        """A static token (header, `X-API-Key` or `?token=`), else with OAuth an access token from the
        `Authorization` header only. With OAuth on, no credential is never open access."""
        if self._oauth is None:
            return self._tokens.authenticate(credential)
        static = self._tokens.identify(credential) if credential is not None else None
        if static is not None:
            return static
        bearer = authorization_bearer(request)
        if bearer is not None and (looks_like_jwt(bearer) or self._oauth.reads_opaque_tokens):
            return await self._oauth.identify(bearer)
        if credential is None:
            raise OAuthRefusal(401, f"Authorization is required. {SIGN_IN_HINT}", error="invalid_token")
        raise OAuthRefusal(401, f"The token is not valid. {SIGN_IN_HINT}", error="invalid_token")

    def _is_oauth_token(self, request: Request, credential: str) -> bool:
        """Whether `credential` is the request's OAuth access token (read from `Authorization` only)."""
        if self._oauth is None or authorization_bearer(request) != credential:
            return False
        return looks_like_jwt(credential) or self._oauth.reads_opaque_tokens

    async def oauth_principal(self, request: Request) -> str:
        """Whom the request's OAuth access token names (an SSE message must come from its stream's owner)."""
        bearer = authorization_bearer(request)
        if self._oauth is None or bearer is None or not (looks_like_jwt(bearer) or self._oauth.reads_opaque_tokens):
            raise OAuthRefusal(401, f"The token is not valid. {SIGN_IN_HINT}", error="invalid_token")
        return (await self._oauth.identify(bearer)).principal

    async def request_view(self, request: Request, *, query_token: bool = True) -> tuple[Identity, AgentView]:
        """The caller's identity and view; in passthrough mode a project URL may bring its own upstream key."""
        credential = presented_credential(request, query_token=query_token)
        if (
            self._passthrough
            and "project_id" in request.path_params
            and credential is not None
            and self._tokens.identify(credential) is None
            and not self._is_oauth_token(request, credential)  # an access token never reaches an upstream
        ):
            view = passthrough_view(self.registry(), request.path_params["project_id"], credential)
            return passthrough_identity(credential), view
        identity = await self.authenticate(request, credential)
        return identity, endpoint_view(self.registry(), request, identity)
