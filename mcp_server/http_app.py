"""The HTTP app: Streamable HTTP and legacy HTTP+SSE endpoints, per-agent URLs, token auth.

One Starlette app and one MCP server. Each MCP request is authenticated (`request_auth.py`), its
endpoint and token decide the `AgentView` it may use, and the view travels to the server in the
request's state (`request.state.agent_view`), where `build_server`'s resolver reads it. The operator
endpoints (`/healthz`, `/readyz`, `/metrics`) live in `operator_endpoints.py`.

The caller's identity also travels to the SDK as `scope["user"]`, which binds a stateful Streamable
HTTP session to the token that opened it (another token's requests on it get 404). HTTP+SSE sessions
are bound in `sse_transport.py`, because their message POSTs usually carry no credential at all.

Passthrough mode (`server.passthrough = true`, off by default) lets `/projects/{id}/...` callers
present their *own* CustomGPT API key as the token; the bridge then forwards with that key. Anyone
who can reach the bridge can then use it as an open relay to CustomGPT with whatever key they hold,
and the bridge's tokens no longer gate those URLs: run it only behind your own authentication.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncGenerator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mcp_server.actions import ActionsFacade
from mcp_server.agents import EVERYTHING, AgentRegistry, seal_for
from mcp_server.audit import AuditLog
from mcp_server.auth import OPEN_PRINCIPAL, TokenBook
from mcp_server.commands.stdio import call_settings
from mcp_server.config import BridgeConfig
from mcp_server.connect_page import ConnectPage
from mcp_server.host_guard import HostOriginGuard, security_settings
from mcp_server.jsonrpc_screen import misused_id
from mcp_server.list_changes import ListChanges
from mcp_server.live_config import LiveAgents
from mcp_server.mcp_face import AgentView, build_server
from mcp_server.modern_exchange import serve_modern_exchange
from mcp_server.oauth.built_in import BuiltInOAuth
from mcp_server.oauth.protected_resource import ProtectedResource
from mcp_server.operator_endpoints import OperatorEndpoints
from mcp_server.protection import DEFAULT_RATE, RateLimit, RateLimiter
from mcp_server.refusal_guard import Guarded, refusing
from mcp_server.request_auth import RequestAuth
from mcp_server.request_body import read_body, replaying
from mcp_server.session_limits import FairSessionManager, StreamCounter
from mcp_server.sse_transport import SseSessions
from mcp_server.stateless_exchange import cancel_on_disconnect, is_modern, serve_one_exchange
from mcp_server.store import InProcessRateCounter, RateCounter, SharedOAuthGrantStore, SharedRateCounter, SharedStore
from mcp_server.telemetry import json_logs, tracing
from mcp_server.telemetry.metrics import retire_from_multiprocess_metrics
from mcp_server.worker_relay import WorkerRelay

logger = logging.getLogger(__name__)

ConfigLoader = Callable[[], BridgeConfig]
"""Reads the configuration again, as `serve` first read it (a reload)."""


def rate_limiter_for(config: BridgeConfig, shared: SharedStore | None = None) -> RateLimiter:
    """Each token's rate limit (its own, else server.rate_limit, else 60/minute; the open mode has none
    unless server.rate_limit is set), counted in this process, or in the shared store (`[store] url`)
    so every worker and replica counts the same calls."""
    limits = {f"token:{t.name}": RateLimit.parse(t.rate_limit) for t in config.tokens if t.rate_limit is not None}
    configured = config.server.rate_limit
    limits[OPEN_PRINCIPAL] = None if configured is None else RateLimit.parse(configured)
    counter: RateCounter = InProcessRateCounter() if shared is None else SharedRateCounter(shared)
    callers = {OPEN_PRINCIPAL: "this bridge (it has no tokens)"}
    return RateLimiter(counter, RateLimit.parse(configured or DEFAULT_RATE), limits, callers)


class BridgeApp:
    def __init__(
        self,
        config: BridgeConfig,
        relay: WorkerRelay | None = None,
        on_ready: Callable[[], None] | None = None,
        reload: ConfigLoader | None = None,
    ) -> None:
        self.config = config
        self._reload = reload  # SIGHUP reloads the configuration with it (live_config.py)
        self.changes = ListChanges()
        self._hangups: anyio.CancelScope | None = None  # cancelled at shutdown: no reload while stopping
        self._on_ready = on_ready  # called once the agents are known (serve prints its ready line then)
        self.relay = relay  # `--workers N` only: this worker's node in the SSE relay (worker_relay.py)
        self.tokens = TokenBook(config.tokens)
        # `[store] url`: rate counts, the built-in server's grants and the agents' state (conversations,
        # answers in progress, caches) live there, all over this one client (one connection pool).
        # Nothing is sent before the first call.
        url = config.store.url.get_secret_value() if config.store.url is not None else None
        self.shared = SharedStore(url) if url is not None else None
        self.live = LiveAgents(config, config.server.call_deadline_seconds, self.shared)
        # OAuth 2.1 (`[oauth]`): bearer JWTs from trusted issuers, beside the static tokens.
        # `[oauth] built_in`: the bridge is also the authorization server (sign in with a bridge token).
        grants = SharedOAuthGrantStore(self.shared) if self.shared is not None else None
        self.built_in = BuiltInOAuth(config, self.tokens, self._agent_names, grants) if config.oauth.built_in else None
        own_issuer = (self.built_in.issuer, self.built_in.server.signing_key) if self.built_in else None
        self.oauth = (
            ProtectedResource(config, self.tokens, self._agent_names, own_issuer) if config.oauth.enabled else None
        )
        self.registry: AgentRegistry | None = None
        self.auth = RequestAuth(self.tokens, self.oauth, lambda: self.registry, passthrough=config.server.passthrough)
        self.security = security_settings(config)
        # HostOriginGuard checks Host and Origin in front of every route; the SDK's own check behind
        # it (which knows no same-origin rule) is turned off.
        checked_in_front = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        limiter = rate_limiter_for(config, self.shared)
        audit = (
            AuditLog.to(config.server.audit_log, content=config.server.audit_content)
            if config.server.audit_log
            else None
        )
        self.server = build_server(
            self._resolve_view, seal_for(config), call_settings(config), self.changes, limiter, audit
        )
        self.sessions = FairSessionManager(
            max_per_principal=config.server.max_sessions_per_token,
            app=self.server,
            stateless=config.server.stateless,
            security_settings=checked_in_front,
            max_request_body_size=config.server.max_body_bytes,
            session_idle_timeout=config.server.session_idle_seconds,
            max_sessions=config.server.max_sessions,
        )
        self._streamable = StreamableHTTPASGIApp(self.sessions)
        self.sse = SseSessions(
            self.server,
            checked_in_front,
            config.server.max_body_bytes,
            self.tokens,
            StreamCounter(config.server.max_sessions_per_token, config.server.max_sessions),
            relay,
            config.server.node_id,
            self.auth.oauth_principal if self.oauth is not None else None,
            idle_seconds=config.server.session_idle_seconds,
            base_path=urlsplit(config.server.public_url).path.rstrip("/") if config.server.public_url else "",
        )
        # The ChatGPT Actions / OpenAPI facade (`/actions/...`), only when `[actions] enabled = true`.
        self.actions = (
            ActionsFacade(
                config,
                self.tokens,
                self.auth.registry,
                seal_for(config),
                authenticate=self.auth.authenticate if self.oauth is not None else None,
                limiter=limiter,
                challenge=self.auth.challenge,
                oauth_endpoints=self.oauth.authorization_endpoints if self.oauth is not None else None,
                audit=audit,
            )
            if config.actions.enabled
            else None
        )
        self.connect_page = ConnectPage(config, self.tokens, lambda: self.registry)
        self.operators = OperatorEndpoints(
            config.server.node_id, self.tokens, lambda: self.registry, lambda: self.sse.stopping, relay
        )

    # -- views ------------------------------------------------------------------------------------

    @staticmethod
    def _resolve_view(ctx: ServerRequestContext[Any, Any]) -> AgentView:
        request = ctx.request
        view = getattr(getattr(request, "state", None), "agent_view", None)
        if not isinstance(view, AgentView):  # pragma: no cover - every route sets it
            raise RuntimeError("request reached the MCP server without an agent view")
        return view

    def _agent_names(self) -> list[str]:
        if self.registry is not None:
            return [agent.name for agent in self.registry.visible(EVERYTHING)]
        return [agent.name for agent in self.config.agents]

    # -- endpoints --------------------------------------------------------------------------------

    async def streamable_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        # `?token=` serves clients that cannot send headers on their requests; never on a DELETE.
        identity, view = await self.auth.request_view(request, query_token=request.method != "DELETE")
        scope.setdefault("state", {})["agent_view"] = view
        if identity.principal != OPEN_PRINCIPAL:
            scope["user"] = identity.user()  # the session manager binds a stateful session to it
        if request.method == "GET" and "last-event-id" in request.headers:
            # No event store: nothing to replay. The SDK would answer nothing at all (a 500 from
            # uvicorn); without the header the client gets a new stream, which is all there is.
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"last-event-id"]
        if request.method == "POST":
            body, complete = await read_body(receive, self.config.server.max_body_bytes)
            refusal = misused_id(body) if complete else None
            if refusal is not None:
                await JSONResponse(refusal.model_dump(mode="json", exclude_unset=True), 400)(scope, receive, send)
                return
            if self.config.server.stateless and complete:
                serve = serve_modern_exchange if is_modern(request) else serve_one_exchange
                if await serve(self.server, self.sessions.lifespan_state, request, body, send):
                    return
            receive = replaying(body, complete, receive)
        if self.config.server.stateless and is_modern(request):
            await self._streamable(scope, receive, send)  # the SDK's modern entry watches for a disconnect itself
        elif self.config.server.stateless:
            await cancel_on_disconnect(self._streamable, scope, receive, send)
        else:  # sessions carry notifications/cancelled to their requests themselves
            if request.method == "POST" and "mcp-session-id" not in request.headers:
                self.sessions.admit(identity)
            await self._streamable(scope, receive, send)

    async def sse_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        identity, view = await self.auth.request_view(Request(scope, receive))
        await self.sse.stream(scope, receive, send, identity, view)

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncGenerator[None]:
        # The socket answers from the start: /healthz at once, /readyz and MCP 503 until the agents are
        # known (discovery asks the upstream for project names and may be slow). Traces are exported (when
        # OTEL_EXPORTER_OTLP_ENDPOINT is set) until the app has stopped, then flushed.
        with tracing.exporting() as exporting:
            if exporting:
                logger.info("exporting traces over OTLP")
            async with self._serving(app):
                yield

    @asynccontextmanager
    async def _serving(self, app: Starlette) -> AsyncGenerator[None]:
        def ready() -> None:
            self.registry = self.live.registry
            logger.info("ready: %d agent(s)", len(self.registry or ()))
            if self._on_ready is not None:
                self._on_ready()

        async def hold_registry() -> None:
            await self.live.run(ready)
            self.registry = None

        async with AsyncExitStack() as oauth_clients, anyio.create_task_group() as background, self.sessions.run():
            if self.shared is not None:
                oauth_clients.push_async_callback(self.shared.aclose)
            background.start_soon(hold_registry)
            if self._reload is not None:
                self._hangups = anyio.CancelScope()
                background.start_soon(self._reload_on_hangup, self._hangups)
            if self.oauth is not None:
                await oauth_clients.enter_async_context(self.oauth.running())
                if self.built_in is not None:
                    await oauth_clients.enter_async_context(self.built_in.running())
            elif not self.tokens.enabled:
                logger.warning("no tokens configured: every client that can reach this address may use every agent")
            if self.config.server.passthrough:
                logger.warning("passthrough is on: /projects/{id}/ URLs accept callers' own upstream keys")
            async with AsyncExitStack() as relaying:
                if self.actions is not None:  # answers in progress run here; cancelled on shutdown
                    await relaying.enter_async_context(self.actions.running())
                if self.relay is not None:  # other workers relay this worker's SSE messages to it
                    await relaying.enter_async_context(self.relay.serving(app))
                # Idle SSE streams and subscriptions/listen streams never hold a shutdown.
                with self.sse.closing_idle_streams_on_signal(self.changes.close):
                    yield
            if self._hangups is not None:
                self._hangups.cancel()
            self.live.stop()
            self.changes.close()
        retire_from_multiprocess_metrics()  # this worker's open-sessions gauge no longer counts

    async def _reload_on_hangup(self, until: anyio.CancelScope) -> None:
        """SIGHUP (`agent-bridge reload`): load the configuration again and serve it (until shutdown)."""
        with until, anyio.open_signal_receiver(signal.SIGHUP) as hangups:
            async for _ in hangups:
                await self.reload()

    async def reload(self) -> bool:
        """Serve the configuration as it now reads; False (the reason logged) when it cannot be used."""
        if self._reload is None:
            return False
        return await self.live.reload(self._reload, self._swap)

    async def _swap(self, config: BridgeConfig, registry: AgentRegistry) -> None:
        self.tokens.replace(config.tokens)
        self.config = config
        self.registry = registry
        told = await self.changes.announce()
        logger.info("told %d session(s) and every subscriptions/listen stream that the lists changed", told)

    def _cross_origin(self) -> tuple[str, ...]:
        """Paths browser-based OAuth clients call from their own origin."""
        if self.oauth is None:
            return ()
        return ("/.well-known/", "/token", "/register", "/revoke")

    def starlette(self) -> Starlette:
        challenge = self.auth.challenge
        mcp, sse = Guarded(self.streamable_http, challenge), Guarded(self.sse_stream, challenge)
        post = Guarded(self.sse.message, challenge)
        routes: list[Route] = [*self.operators.routes(), *self.connect_page.routes(refusing)]
        if self.oauth is not None:
            routes += self.oauth.routes()
        if self.built_in is not None:
            routes += self.built_in.routes()
        # `/chatgpt/...`: ChatGPT's connector contract (search + fetch) over the same agents and tokens.
        for prefix in ("", "/agents/{agent}", "/projects/{project_id}", "/chatgpt", "/agents/{agent}/chatgpt"):
            # `/mcp/` and `/sse/` are served in place: a redirect would repeat a `?token=` in `Location`.
            routes += [
                Route(f"{prefix}/mcp", mcp, methods=["GET", "POST", "DELETE"]),
                Route(f"{prefix}/mcp/", mcp, methods=["GET", "POST", "DELETE"]),
                Route(f"{prefix}/sse", sse, methods=["GET"]),
                Route(f"{prefix}/sse/", sse, methods=["GET"]),
                Route(f"{prefix}/messages/", post, methods=["POST"]),
            ]
            if self.config.server.node_id is not None:  # replicas: the stream's replica is in the path
                routes.append(Route(f"{prefix}/messages/{{replica}}/", post, methods=["POST"]))
        if self.actions is not None:
            routes += self.actions.routes()
        # JSON logs carry a request id; text logs need none, so no middleware for them on the hot path.
        request_ids = [Middleware(json_logs.RequestIds)] if json_logs.active() else []
        app = Starlette(
            routes=routes,
            lifespan=self.lifespan,
            exception_handlers={404: _not_found},
            # before routing and auth
            middleware=[
                *request_ids,
                Middleware(HostOriginGuard, settings=self.security, cross_origin_paths=self._cross_origin()),
            ],
        )
        app.router.redirect_slashes = False
        return app


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {
            "error": "not_found",
            "message": f"No endpoint at {request.url.path}. MCP lives at /mcp, /agents/<agent>/mcp and "
            "/projects/<project_id>/mcp (Streamable HTTP) or the same paths ending in /sse (HTTP+SSE).",
        },
        status_code=404,
    )


def create_app(
    config: BridgeConfig,
    relay: WorkerRelay | None = None,
    on_ready: Callable[[], None] | None = None,
    reload: ConfigLoader | None = None,
) -> Starlette:
    """The whole HTTP surface: every route, one MCP server, one Streamable HTTP session manager. With
    `reload`, SIGHUP reloads the configuration through it."""
    return BridgeApp(config, relay, on_ready, reload).starlette()
