"""The Actions facade's HTTP routes: each agent's REST operations, the long-answer continuation and
the OpenAPI documents, over the same registry, agents, tokens, scopes and conversation seal as MCP.

Order of checks on every call: Host/Origin (the app's guard, in front of every route), then the
token, then the agent and operation (an agent outside the token's scope answers exactly as on the MCP
endpoints: 404 naming the agents it may use), then the input.

`ask` and its continuation run in `long_answers`; every route is wrapped in `endpoint_guard`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, cast

import anyio
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_server.actions.answers import AnswerStore
from mcp_server.actions.audited import Audited
from mcp_server.actions.catalog import ASK, ENDPOINTS, Endpoint
from mcp_server.actions.credentials import presented_token
from mcp_server.actions.document import (
    AUTH_STYLES,
    AuthStyle,
    OAuthFlow,
    agent_document,
    as_openapi_30,
    combined_document,
)
from mcp_server.actions.endpoint_guard import EndpointGuard, Handler
from mcp_server.actions.failures import Failure, call_failed, deadline_passed, invalid_input
from mcp_server.actions.limits import shrink
from mcp_server.actions.long_answers import LongAnswers
from mcp_server.actions.request_body import json_body
from mcp_server.agents import EVERYTHING, AccessScope, Agent, AgentRegistry
from mcp_server.audit import OK, AuditLog, outcome_of, question_of
from mcp_server.auth import Identity, TokenBook
from mcp_server.config import BridgeConfig
from mcp_server.conversations import ConversationSeal
from mcp_server.errors import CallError
from mcp_server.oauth.challenge import OAuthRefusal
from mcp_server.oauth.scopes import agent_scope
from mcp_server.operations import Call
from mcp_server.operations.models import AskArgs
from mcp_server.protection import RateLimiter
from mcp_server.refusal_guard import Challenge, no_challenge

OAuthEndpoints = Callable[[], Awaitable[tuple[str, str]]]
"""Where people sign in and clients get tokens: (authorization URL, token URL)."""


def _json(value: dict[str, Any]) -> JSONResponse:
    return JSONResponse(shrink(value))


class ActionsFacade:
    def __init__(
        self,
        config: BridgeConfig,
        tokens: TokenBook,
        registry: Callable[[], AgentRegistry],
        seal: ConversationSeal,
        answers: AnswerStore | None = None,
        authenticate: Callable[[Request, str | None], Awaitable[Identity]] | None = None,
        limiter: RateLimiter | None = None,
        challenge: Challenge = no_challenge,
        oauth_endpoints: OAuthEndpoints | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self._settings = config.actions
        self._limiter = limiter
        self._audit = audit
        self._deadline = config.server.call_deadline_seconds
        self._public_url = config.server.public_url
        self._tokens = tokens
        # With OAuth the bridge's own authenticator (static tokens, then OAuth access tokens).
        self._authenticate = authenticate
        self._challenge = challenge
        self._oauth_endpoints = oauth_endpoints  # with `[oauth]`: the documents' `?auth=oauth` flow
        self._registry = registry
        self._seal = seal
        # `answers` None: chosen with the agents (in process, or the `[store] url` server)
        self._long_answers = LongAnswers(config.actions, self._deadline, registry, answers)

    def running(self) -> AbstractAsyncContextManager[None]:
        """Own the tasks of answers in progress; on exit (shutdown) they are cancelled."""
        return self._long_answers.running()

    def routes(self) -> list[Route]:
        challenge = self._challenge
        routes = [
            Route("/actions/openapi.json", EndpointGuard(self.combined_document, "GET")),
            Route("/actions/{agent}/openapi.json", EndpointGuard(self.agent_document, "GET")),
            Route("/actions/{agent}/answers/{answer_id}", EndpointGuard(self.get_answer, "GET", challenge=challenge)),
        ]
        for endpoint in ENDPOINTS:
            handler = EndpointGuard(self._operation(endpoint), endpoint.method, challenge=challenge)
            routes.append(Route(f"/actions/{{agent}}/{endpoint.path}", handler))
        return routes

    # -- documents (public: they hold no secret, and the GPT editor's "Import from URL" sends no token) --

    def _server_url(self, request: Request) -> str:
        if self._public_url is not None:
            return self._public_url
        return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"

    def _document_options(self, request: Request) -> tuple[bool, AuthStyle | None]:
        version = request.query_params.get("openapi", "3.1")
        if version not in ("3.0", "3.0.3", "3.1", "3.1.0"):
            raise Failure(400, "openapi: use 3.1 (the default) or 3.0.")
        auth = request.query_params.get("auth", "bearer")
        if auth not in AUTH_STYLES:
            raise Failure(
                400, f"auth: use one of {', '.join(AUTH_STYLES)} (the security scheme the document declares)."
            )
        if auth == "oauth" and self._oauth_endpoints is None:
            raise Failure(400, "auth=oauth: this bridge has no [oauth] table; use bearer, basic or api_key.")
        protected = self._tokens.enabled or self._authenticate is not None
        return version.startswith("3.0"), auth if protected else None

    async def _flow(self, auth: AuthStyle | None) -> OAuthFlow | None:
        if auth != "oauth" or self._oauth_endpoints is None:
            return None
        return OAuthFlow(*await self._oauth_endpoints())

    def _document_scope(self, request: Request) -> AccessScope:
        """Whose documents: a valid token's own agents (so it cannot learn others' names by asking),
        else every agent (the GPT editor's import sends no token)."""
        credential = presented_token(request)
        identity = self._tokens.identify(credential) if credential is not None and self._tokens.enabled else None
        return identity.scope if identity is not None else EVERYTHING

    async def agent_document(self, request: Request) -> Response:
        agent = self._registry_now().get(request.path_params["agent"])
        if agent is None or not self._document_scope(request).allows_agent(agent.name):
            raise Failure(404, "No agent by that name. The list of agents is in /actions/openapi.json.")
        legacy, auth = self._document_options(request)
        document = agent_document(agent, self._server_url(request), auth, await self._flow(auth))
        return JSONResponse(as_openapi_30(document) if legacy else document)

    async def combined_document(self, request: Request) -> Response:
        registry = self._registry_now()
        legacy, auth = self._document_options(request)
        agents = registry.visible(self._document_scope(request))
        document = combined_document(agents, self._server_url(request), auth, await self._flow(auth))
        return JSONResponse(as_openapi_30(document) if legacy else document)

    # -- who may call what ---------------------------------------------------------------------

    def _registry_now(self) -> AgentRegistry:
        return self._registry()

    async def _caller(self, request: Request) -> tuple[Identity, Agent]:
        credential = presented_token(request)
        if self._authenticate is not None:
            identity = await self._authenticate(request, credential)
        else:
            identity = self._tokens.authenticate(credential)
        registry = self._registry_now()
        agent = registry.get(request.path_params["agent"])
        if agent is not None and identity.oauth and not identity.scope.allows_agent(agent.name):
            # As on the MCP endpoints: an OAuth client asks the person to consent to the agent's scope.
            raise OAuthRefusal(
                403,
                f"The access token does not cover agent '{agent.name}'; sign in again granting "
                f"{agent_scope(agent.name)}.",
                error="insufficient_scope",
                scope=agent_scope(agent.name),
            )
        if agent is None or not identity.scope.allows_agent(agent.name):
            names = ", ".join(a.name for a in registry.visible(identity.scope)) or "none"
            raise Failure(404, f"No agent by that name for this token. Agents you may use: {names}.")
        return identity, agent

    def _allow(self, identity: Identity, agent: Agent, endpoint: Endpoint) -> None:
        if endpoint.tool not in agent.tools:
            raise Failure(404, f"Agent '{agent.name}' does not offer {endpoint.operation_id}.")
        if not identity.scope.allows_tool(agent.name, endpoint.tool):
            raise Failure(403, f"Token '{identity.name}' may not use {endpoint.operation_id} of agent '{agent.name}'.")

    def _call(self, identity: Identity, agent: Agent) -> Call:
        return Call(agent.name, agent.backend, identity.principal, self._seal, identity.scope.reveals_config)

    # -- operations ------------------------------------------------------------------------------

    def _operation(self, endpoint: Endpoint) -> Handler:
        async def handle(request: Request) -> Response:
            identity, agent = await self._caller(request)
            self._allow(identity, agent, endpoint)
            raw = await json_body(request) if endpoint.method == "POST" else dict(request.query_params)
            try:
                args = endpoint.operation.args.model_validate(raw)
            except ValidationError as exc:
                raise invalid_input(exc, "body" if endpoint.method == "POST" else "query parameters") from None
            started = time.monotonic()
            audited = Audited(self._audit, identity.name, agent.name, endpoint.operation_id, question_of(args))
            if self._limiter is not None:
                try:
                    await self._limiter.check(identity.principal, identity.name)
                except CallError as exc:
                    audited.record(outcome_of(exc), started)
                    raise call_failed(exc, agent.name) from None
            if endpoint is ASK:
                call = self._call(identity, agent)
                return await self._long_answers.ask(identity, agent, call, cast(AskArgs, args), audited)
            wait = min(self._deadline, self._settings.answer_wait_seconds)
            try:
                with anyio.fail_after(wait):
                    result = await endpoint.operation.run(self._call(identity, agent), args)
            except TimeoutError as exc:
                audited.record(outcome_of(exc), started)
                raise deadline_passed(agent.name, wait) from None
            except CallError as exc:
                audited.record(outcome_of(exc), started)
                raise call_failed(exc, agent.name) from None
            except Exception as exc:
                audited.record(outcome_of(exc), started)
                raise
            audited.record(OK, started)
            return _json(result.model_dump(mode="json"))

        return handle

    async def get_answer(self, request: Request) -> Response:
        identity, agent = await self._caller(request)
        self._allow(identity, agent, ASK)
        return await self._long_answers.get_answer(identity, agent, request)
