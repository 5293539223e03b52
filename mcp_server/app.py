"""The HTTP app: Streamable HTTP and legacy HTTP+SSE endpoints, per-agent URLs, token auth.

One Starlette app and one MCP server. Each MCP request is authenticated here, its endpoint and token
decide the `AgentView` it may use, and the view travels to the server in the request's state
(`request.state.agent_view`), where `build_server`'s resolver reads it.

The caller's identity also travels to the SDK as `scope["user"]`, which binds a stateful Streamable
HTTP session to the token that opened it (another token's requests on it get 404). HTTP+SSE sessions
are bound in `sse_transport.py`, because their message POSTs usually carry no credential at all.

Passthrough mode (`server.passthrough = true`, off by default) lets `/projects/{id}/...` callers
present their *own* CustomGPT API key as the token; the bridge then forwards with that key. Anyone
who can reach the bridge can then use it as an open relay to CustomGPT with whatever key they hold,
and the bridge's tokens no longer gate those URLs: run it only behind your own authentication.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.agents import Agent, AgentRegistry, default_description
from mcp_server.auth import OPEN_PRINCIPAL, Identity, Refusal, TokenBook, passthrough_identity, presented_credential
from mcp_server.backends import create_backend, create_client
from mcp_server.config import AgentConfig, BackendConfig, BridgeConfig, agent_tools
from mcp_server.server import AgentView, build_server
from mcp_server.sse_transport import SseSessions
from mcp_server.stdio import call_settings

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "[::1]")


class _Guarded:
    """A raw ASGI endpoint (not a request/response function) whose refusals become JSON responses."""

    def __init__(self, handler: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._handler(scope, receive, send)
        except Refusal as refusal:
            await refusal.response()(scope, receive, send)


async def cancel_on_disconnect(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run `app`, cancelling it when the client goes away after sending its request.

    The stateless Streamable HTTP transport does not notice a client that disconnects mid-response, so
    a cancelled call would keep its upstream stream (and its credits) running. uvicorn answers every
    `receive()` after the body with `http.disconnect` once the peer is gone; a watcher waits for that.
    """
    body_read = anyio.Event()

    async def tracking_receive() -> Message:
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body_read.set()
        return message

    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            await body_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        await app(scope, tracking_receive, send)
        tg.cancel_scope.cancel()


def host_patterns(name: str) -> list[str]:
    """The Host header values a configured name allows: the name on any port, or exactly `name:port`."""
    try:
        if ipaddress.ip_address(name.strip("[]")).version == 6:
            return [f"[{name.strip('[]')}]", f"[{name.strip('[]')}]:*"]
    except ValueError:
        pass
    if ":" in name:  # `host:port` or `[v6]:port`
        return [name.lower()]
    return [name.lower(), f"{name.lower()}:*"]


def security_settings(config: BridgeConfig) -> TransportSecuritySettings:
    """DNS-rebinding protection: loopback names, `server.public_hosts` and a specific bind address."""
    hosts = [f"{h}:*" for h in LOOPBACK_HOSTS] + list(LOOPBACK_HOSTS)
    names = list(config.server.public_hosts)
    if config.server.host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", "::1"):
        names.append(config.server.host)
    for name in names:
        hosts += host_patterns(name)
    origins = [f"http://{h}:*" for h in LOOPBACK_HOSTS] + [f"http://{h}" for h in LOOPBACK_HOSTS]
    origins += list(config.server.allowed_origins)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class BridgeApp:
    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.tokens = TokenBook(config.tokens)
        self.registry: AgentRegistry | None = None
        self.security = security_settings(config)
        self.server = build_server(self._resolve_view, call_settings(config))
        self.sessions = StreamableHTTPSessionManager(
            app=self.server,
            stateless=config.server.stateless,
            security_settings=self.security,
            max_request_body_size=config.server.max_body_bytes,
        )
        self._streamable = StreamableHTTPASGIApp(self.sessions)
        self.sse = SseSessions(self.server, self.security, config.server.max_body_bytes, self.tokens)

    # -- views ------------------------------------------------------------------------------------

    @staticmethod
    def _resolve_view(ctx: ServerRequestContext[Any, Any]) -> AgentView:
        request = ctx.request
        view = getattr(getattr(request, "state", None), "agent_view", None)
        if not isinstance(view, AgentView):  # pragma: no cover - every route sets it
            raise RuntimeError("request reached the MCP server without an agent view")
        return view

    def _registry(self) -> AgentRegistry:
        if self.registry is None:
            raise Refusal(503, "The bridge is not ready (starting or stopping); retry in a moment.")
        return self.registry

    def _view(self, request: Request, identity: Identity) -> AgentView:
        registry = self._registry()
        params = request.path_params
        visible = registry.visible(identity.scope)
        if "agent" in params:
            agent = registry.get(params["agent"])
            if agent is None:
                names = ", ".join(a.name for a in visible) or "none"
                raise Refusal(404, f"No agent named '{params['agent']}' on this bridge. Agents you may use: {names}.")
            agents = [agent]
        elif "project_id" in params:
            agent = _project(registry, params["project_id"])
            if agent is None:
                ids = ", ".join(str(a.project_id) for a in visible if a.project_id is not None) or "none"
                raise Refusal(
                    404,
                    f"No agent serves project '{params['project_id']}' here. Projects you may use: {ids}.",
                )
            agents = [agent]
        else:
            agents = visible
            if not agents:
                raise Refusal(403, f"Token '{identity.name}' may not use any agent on this bridge.")
        for agent in agents:
            if not identity.scope.allows_agent(agent.name):
                raise Refusal(403, f"Token '{identity.name}' may not use agent '{agent.name}'.")
        return AgentView(tuple(agents), identity.scope)

    @asynccontextmanager
    async def _request_view(self, request: Request) -> AsyncGenerator[tuple[Identity, AgentView]]:
        """The caller's identity and view; in passthrough mode a project URL may bring its own upstream key."""
        credential = presented_credential(request)
        if (
            self.config.server.passthrough
            and "project_id" in request.path_params
            and credential is not None
            and self.tokens.identify(credential) is None
        ):
            project_id = request.path_params["project_id"]
            if not project_id.isdigit():
                raise Refusal(404, f"'{project_id}' is not a CustomGPT project id (a number).")
            async with self._passthrough_view(int(project_id), credential) as view:
                yield passthrough_identity(credential), view
            return
        identity = self.tokens.authenticate(credential)
        yield identity, self._view(request, identity)

    def _passthrough_backend(self, project_id: int) -> tuple[BackendConfig, AgentConfig]:
        """The CustomGPT backend (base URL, timeouts) for a project, and the agent settings to use."""
        for agent in self.config.agents:
            backend = self.config.backends[agent.backend]
            if agent.project_id == project_id and backend.kind == "customgpt":
                return backend, agent
        backend = next((b for b in self.config.backends.values() if b.kind == "customgpt"), None)
        if backend is None:
            raise Refusal(404, "Passthrough needs a [backends.*] table of kind 'customgpt' for the upstream URL.")
        return backend, AgentConfig(name=f"project-{project_id}", project_id=project_id)

    @asynccontextmanager
    async def _passthrough_view(self, project_id: int, upstream_key: str) -> AsyncGenerator[AgentView]:
        """One agent on the caller's own upstream key, with a client of its own, closed after use.

        Passthrough risk: with `server.passthrough = true` the bridge's tokens no longer gate the
        `/projects/{id}/...` URLs. Anyone who can reach the bridge may use it as a relay to the
        upstream with whatever key they hold, the bridge handles every such key in transit, and a
        mistyped bridge token on those URLs is forwarded upstream as if it were a key. Turn it on
        only for a hosted-style multi-tenant deployment behind your own authentication and TLS.
        """
        backend_config, agent_config = self._passthrough_backend(project_id)
        known = self._registry().by_project(project_id)
        client = create_client(backend_config, api_key=upstream_key)
        try:
            title = known.title if known else f"Project {project_id}"
            agent = Agent(
                name=known.name if known else agent_config.name,
                title=title,
                description=known.description if known else default_description(title),
                project_id=project_id,
                tools=agent_tools(agent_config, backend_config.kind),
                backend=create_backend(backend_config, agent_config, client),
            )
            yield AgentView((agent,), passthrough_identity(upstream_key).scope)
        finally:
            await client.aclose()

    # -- endpoints --------------------------------------------------------------------------------

    async def streamable_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        async with self._request_view(request) as (identity, view):
            scope.setdefault("state", {})["agent_view"] = view
            if identity.principal != OPEN_PRINCIPAL:
                scope["user"] = identity.user()  # the session manager binds a stateful session to it
            if self.config.server.stateless:
                await cancel_on_disconnect(self._streamable, scope, receive, send)
            else:  # sessions carry notifications/cancelled to their requests themselves
                await self._streamable(scope, receive, send)

    async def sse_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await self.sse.rejected_host(scope, receive, send):
            return
        async with self._request_view(Request(scope, receive)) as (identity, view):
            await self.sse.stream(scope, receive, send, identity, view)

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        if self.registry is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready", "agents": len(self.registry)})

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncGenerator[None]:
        async with AgentRegistry.open(self.config) as registry, self.sessions.run():
            self.registry = registry
            if not self.tokens.enabled:
                logger.warning("no tokens configured: every client that can reach this address may use every agent")
            if self.config.server.passthrough:
                logger.warning("passthrough is on: /projects/{id}/ URLs accept callers' own upstream keys")
            yield
            self.registry = None

    def starlette(self) -> Starlette:
        mcp, sse = _Guarded(self.streamable_http), _Guarded(self.sse_stream)
        post = _Guarded(self.sse.message)
        routes: list[Route] = [Route("/healthz", self.healthz), Route("/readyz", self.readyz)]
        for prefix in ("", "/agents/{agent}", "/projects/{project_id}"):
            routes += [
                Route(f"{prefix}/mcp", mcp, methods=["GET", "POST", "DELETE"]),
                Route(f"{prefix}/sse", sse, methods=["GET"]),
                Route(f"{prefix}/messages/", post, methods=["POST"]),
            ]
        return Starlette(routes=routes, lifespan=self.lifespan, exception_handlers={404: _not_found})


def _project(registry: AgentRegistry, project_id: str) -> Agent | None:
    return registry.by_project(int(project_id)) if project_id.isdigit() else None


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {
            "error": "not_found",
            "message": f"No endpoint at {request.url.path}. MCP lives at /mcp, /agents/<agent>/mcp and "
            "/projects/<project_id>/mcp (Streamable HTTP) or the same paths ending in /sse (HTTP+SSE).",
        },
        status_code=404,
    )


def create_app(config: BridgeConfig) -> Starlette:
    """The whole HTTP surface: every route, one MCP server, one Streamable HTTP session manager."""
    return BridgeApp(config).starlette()
