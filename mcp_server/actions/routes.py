"""The Actions facade's HTTP routes: each agent's REST operations, the long-answer continuation and
the OpenAPI documents, over the same registry, agents, tokens, scopes and conversation seal as MCP.

Order of checks on every call: Host/Origin (the app's guard, in front of every route), then the
token, then the agent and operation (an agent outside the token's scope answers exactly as on the MCP
endpoints: 404 naming the agents it may use), then the input.

`ask` starts the answer in a task owned by the app (`ActionsFacade.running`, entered by the app's
lifespan), waits at most `actions.answer_wait_seconds`, and answers either the whole result or
`in_progress` with the text so far and an `answer_id`; the upstream stream goes on meanwhile.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Final, cast

import anyio
from anyio.abc import TaskGroup
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mcp_server.actions.answers import AnswerState, AnswerStore, InProcessAnswers, is_answer_id
from mcp_server.actions.catalog import ASK, ENDPOINTS, AnswerOut, Endpoint, GetAnswerArgs
from mcp_server.actions.credentials import presented_token
from mcp_server.actions.document import (
    AUTH_STYLES,
    AuthStyle,
    OAuthFlow,
    agent_document,
    as_openapi_30,
    combined_document,
)
from mcp_server.actions.failures import (
    Failure,
    call_failed,
    deadline_passed,
    invalid_input,
    refused,
    store_failed,
)
from mcp_server.actions.limits import CUT_MARKER, MAX_REQUEST_BYTES, cut_text, shrink
from mcp_server.actions.shared_answers import SharedAnswers
from mcp_server.agents import EVERYTHING, AccessScope, Agent, AgentRegistry
from mcp_server.audit import OK, AuditLog, Outcome, answer_of, outcome_of, question_of
from mcp_server.auth import Identity, TokenBook
from mcp_server.config import BridgeConfig
from mcp_server.conversations import ConversationSeal
from mcp_server.errors import CallError, Refusal, StoreUnavailableError
from mcp_server.oauth.challenge import OAuthRefusal
from mcp_server.oauth.scopes import agent_scope
from mcp_server.operations import Call
from mcp_server.operations.models import AskArgs, AskResult
from mcp_server.protection import RateLimiter
from mcp_server.refusal_guard import Challenge, no_challenge

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
OAuthEndpoints = Callable[[], Awaitable[tuple[str, str]]]
"""Where people sign in and clients get tokens: (authorization URL, token URL)."""


_INTERNAL: Final = "The bridge failed while handling this call (an internal error, logged for the operator). Retry."


class _Endpoint:
    """An ASGI endpoint for `methods`: any other method gets a JSON 405, any `Failure` its JSON body."""

    def __init__(self, handler: Handler, *methods: str, challenge: Challenge = no_challenge) -> None:
        self._handler = handler
        self._methods = methods
        self._challenge = challenge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            if request.method not in self._methods:
                allowed = ", ".join(self._methods)
                raise Failure(405, f"Use {allowed} on this path.", "method_not_allowed")
            response = await self._handler(request)
        except Refusal as refusal:
            response = refused(refusal).response()
            response.headers.update(self._challenge(scope, refusal))  # with OAuth: as on the MCP endpoints
        except Failure as failure:
            response = failure.response()
            if failure.status == 405:
                response.headers["Allow"] = ", ".join(self._methods)
        except Exception:  # a bug of ours: the client reads one JSON sentence, the operator the traceback
            logger.exception("actions %s %s failed inside the bridge", request.method, request.url.path)
            response = Failure(500, _INTERNAL, "internal_error").response()
        await response(scope, receive, send)


def _json(value: dict[str, Any]) -> JSONResponse:
    return JSONResponse(shrink(value))


@dataclass(frozen=True, slots=True)
class Audited:
    """The audit line of one Actions operation, written by whichever step ends it."""

    log: AuditLog | None
    token: str
    agent: str
    operation: str  # the operationId: ask, searchCitations, listSources
    question: str | None

    def record(self, outcome: Outcome, started: float, answer: str | None = None) -> None:
        if self.log is not None:
            self.log.record(
                token=self.token,
                agent=self.agent,
                tool=self.operation,
                outcome=outcome,
                seconds=time.monotonic() - started,
                question=self.question,
                answer=answer,
            )


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
        self._answers = answers  # None: chosen with the agents (in process, or the `[store] url` server)
        self._tasks: TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """Own the tasks of answers in progress; on exit (shutdown) they are cancelled."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                self._tasks = None
                tasks.cancel_scope.cancel()

    def routes(self) -> list[Route]:
        challenge = self._challenge
        routes = [
            Route("/actions/openapi.json", _Endpoint(self.combined_document, "GET")),
            Route("/actions/{agent}/openapi.json", _Endpoint(self.agent_document, "GET")),
            Route("/actions/{agent}/answers/{answer_id}", _Endpoint(self.get_answer, "GET", challenge=challenge)),
        ]
        for endpoint in ENDPOINTS:
            handler = _Endpoint(self._operation(endpoint), endpoint.method, challenge=challenge)
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

    def _answer_store(self) -> AnswerStore:
        """Answers in progress: in this process, or in the shared store so any replica can continue them."""
        if self._answers is None:
            shared = self._registry_now().state.shared
            settings = self._settings
            self._answers = (
                InProcessAnswers(
                    ttl_seconds=settings.answer_ttl_seconds, max_per_principal=settings.max_answers_per_token
                )
                if shared is None
                else SharedAnswers(
                    shared,
                    ttl_seconds=settings.answer_ttl_seconds,
                    max_per_principal=settings.max_answers_per_token,
                    deadline_seconds=self._deadline,
                )
            )
        return self._answers

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
            raw = await _json_body(request) if endpoint.method == "POST" else dict(request.query_params)
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
                return await self._ask(identity, agent, cast(AskArgs, args), audited)
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

    async def _ask(self, identity: Identity, agent: Agent, args: AskArgs, audited: Audited) -> Response:
        if self._tasks is None:
            raise Failure(503, "The bridge is starting or stopping; retry in a moment.")
        answers = self._answer_store()
        try:
            answer_id = await answers.open(identity.principal, agent.name)
        except StoreUnavailableError as exc:
            raise store_failed(exc) from None
        self._tasks.start_soon(self._produce, answers, answer_id, self._call(identity, agent), args, audited)
        return await self._answer(identity, agent, answer_id, 0)

    async def _produce(self, answers: AnswerStore, answer_id: str, call: Call, args: AskArgs, audited: Audited) -> None:
        """Run the ask to its end (or the call deadline), keeping its text and outcome in the store; its
        audit line is written when it ends, however long the caller has been polling."""

        async def on_delta(text: str) -> None:
            await answers.append(answer_id, text)

        result: AskResult | None = None
        failure: Failure | None = None
        started = time.monotonic()
        try:
            with anyio.fail_after(self._deadline):
                result = await ASK.operation.run(replace(call, on_delta=on_delta), args)
        except TimeoutError as exc:
            audited.record(outcome_of(exc), started)
            failure = deadline_passed(call.agent, self._deadline)
        except CallError as exc:
            audited.record(outcome_of(exc), started)
            failure = call_failed(exc, call.agent)
        except Exception as exc:
            audited.record(outcome_of(exc), started)
            logger.exception("ask on agent %s failed inside the bridge", call.agent)
            failure = Failure(502, f"Agent '{call.agent}': {_INTERNAL}", "internal_error")
        else:
            audited.record(OK, started, answer_of(result))
        try:
            await answers.finish(answer_id, result, failure)
        except StoreUnavailableError as exc:  # nobody can fetch it then; the caller is told when it asks
            logger.warning("answer %s of agent %s not stored: %s", answer_id, call.agent, exc)

    async def get_answer(self, request: Request) -> Response:
        identity, agent = await self._caller(request)
        self._allow(identity, agent, ASK)
        answer_id = request.path_params["answer_id"]
        if not is_answer_id(answer_id):
            raise _no_answer()
        try:
            args = GetAnswerArgs.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise invalid_input(exc, "query parameters") from None
        return await self._answer(identity, agent, answer_id, args.offset)

    async def _answer(self, identity: Identity, agent: Agent, answer_id: str, offset: int) -> Response:
        try:
            state = await self._answer_store().wait(
                identity.principal, agent.name, answer_id, self._settings.answer_wait_seconds
            )
        except StoreUnavailableError as exc:
            raise store_failed(exc) from None
        if state is None:
            raise _no_answer()
        if state.failure is not None:
            raise state.failure
        body = _answer_body(state, answer_id, offset)
        return JSONResponse(shrink(body))


def _no_answer() -> Failure:
    return Failure(
        404,
        "No answer with that answer_id for this token (answers belong to the token that asked, and are dropped "
        "a few minutes after they finish). Ask the question again.",
    )


def _answer_body(state: AnswerState, answer_id: str, offset: int) -> dict[str, Any]:
    """The answer from `offset`, cut (with `next_offset`) when it would not fit in one response."""
    result = state.result
    text = result.answer if result is not None else state.text
    out = AnswerOut(
        status="complete" if result is not None else "in_progress",
        answer=text[offset:],
        answer_id=answer_id,
        conversation_id=result.conversation_id if result is not None else None,
        message_id=result.message_id if result is not None else None,
        citations=result.citations if result is not None else [],
    )
    body = out.model_dump(mode="json")
    kept = cut_text(body, "answer", _continue_marker(answer_id))
    if kept is not None:
        body["next_offset"] = offset + kept
        body["answer"] = body["answer"].replace(_continue_marker(answer_id), _continue_marker(answer_id, offset + kept))
    return body


def _continue_marker(answer_id: str, offset: int = 10**9) -> str:
    """What ends a cut answer; the placeholder offset is as wide as any real one, so the cut size holds."""
    return f"\n\n{CUT_MARKER.strip()} Call getAnswer with answer_id={answer_id} and offset={offset} for the rest."


async def _json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise _too_large()
        chunks.append(chunk)
    try:
        value = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep to read
        raise Failure(400, 'The body is not JSON; send a JSON object such as {"question": "..."}.') from None
    if not isinstance(value, dict):
        raise Failure(400, 'The body must be a JSON object such as {"question": "..."}.')
    return cast(dict[str, Any], value)


def _too_large() -> Failure:
    return Failure(413, f"The request body is over {MAX_REQUEST_BYTES:,} bytes; send a shorter question.")
