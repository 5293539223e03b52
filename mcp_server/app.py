"""The HTTP app: Streamable HTTP and legacy HTTP+SSE endpoints, per-agent URLs, token auth.

One Starlette app and one MCP server. Each MCP request is authenticated here, its endpoint and token
decide the `AgentView` it may use, and the view travels to the server in the request's state
(`request.state.agent_view`), where `build_server`'s resolver reads it.

HTTP+SSE clients (Cursor, Windsurf, n8n) often paste `.../sse?token=T` and then POST their messages
without any credential. So an SSE session is bound to the identity that opened it: a POST with no
credential acts as that identity, and a POST presenting a different token is refused.

Passthrough mode (`server.passthrough = true`, off by default) lets `/projects/{id}/...` callers
present their *own* CustomGPT API key as the token; the bridge then forwards with that key. Anyone
who can reach the bridge can then use it as an open relay to CustomGPT with whatever key they hold,
and the bridge's tokens no longer gate those URLs: run it only behind your own authentication.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.agents import EVERYTHING, Agent, AgentRegistry, default_description
from mcp_server.auth import OPEN_ACCESS, Identity, TokenBook, presented_credential
from mcp_server.backends import create_backend, create_client
from mcp_server.config import AgentConfig, BridgeConfig, agent_tools
from mcp_server.server import AgentView, build_server
from mcp_server.stdio import call_settings

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "[::1]")
_SESSION_IN_ENDPOINT = re.compile(rb"session_id=([0-9a-f]{32})")


class Refusal(Exception):
    """An HTTP-level refusal (401/403/404) with the JSON body a client should read."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="agent-bridge"'} if self.status == 401 else None
        error = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(self.status, "error")
        return JSONResponse({"error": error, "message": str(self)}, status_code=self.status, headers=headers)


@dataclass(frozen=True, slots=True)
class SseBinding:
    identity: Identity
    view: AgentView


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


def security_settings(config: BridgeConfig) -> TransportSecuritySettings:
    hosts = [f"{h}:*" for h in LOOPBACK_HOSTS] + list(LOOPBACK_HOSTS)
    names = list(config.server.public_hosts)
    if config.server.host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", "::1"):
        names.append(config.server.host)
    for name in names:
        hosts += [name] if ":" in name.strip("[]") and not name.startswith("[") else [name, f"{name}:*"]
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
        self._sse_transports: dict[str, SseServerTransport] = {}
        self._sse_bindings: dict[str, SseBinding] = {}

    # -- views ------------------------------------------------------------------------------------

    @staticmethod
    def _resolve_view(ctx: ServerRequestContext[Any, Any]) -> AgentView:
        request = ctx.request
        view = getattr(getattr(request, "state", None), "agent_view", None)
        if not isinstance(view, AgentView):  # pragma: no cover - every route sets it
            raise RuntimeError("request reached the MCP server without an agent view")
        return view

    def _authenticate(self, request: Request) -> Identity:
        if not self.tokens.enabled:
            return OPEN_ACCESS
        credential = presented_credential(request)
        if credential is None:
            raise Refusal(
                401,
                "A token is required. Send it as 'Authorization: Bearer <token>', 'X-API-Key: <token>' or "
                "'?token=<token>'; an operator creates one with 'agent-bridge token new'.",
            )
        identity = self.tokens.identify(credential)
        if identity is None:
            raise Refusal(401, "The token is not valid. Check it against the one the operator gave you.")
        return identity

    def _registry(self) -> AgentRegistry:
        if self.registry is None:
            raise Refusal(404, "The bridge is still starting; retry in a moment.")
        return self.registry

    def _view(self, request: Request, identity: Identity) -> AgentView:
        registry = self._registry()
        params = request.path_params
        if "agent" in params:
            agent = registry.get(params["agent"])
            if agent is None:
                raise Refusal(404, f"No agent named '{params['agent']}'. GET /mcp lists the agents you may use.")
            agents = [agent]
        elif "project_id" in params:
            agent = registry.by_project(int(params["project_id"]))
            if agent is None:
                raise Refusal(404, f"No agent serves project {params['project_id']} on this bridge.")
            agents = [agent]
        else:
            agents = registry.visible(identity.scope)
            if not agents:
                raise Refusal(403, f"Token '{identity.name}' may not use any agent on this bridge.")
        for agent in agents:
            if not identity.scope.allows_agent(agent.name):
                raise Refusal(403, f"Token '{identity.name}' may not use agent '{agent.name}'.")
        return AgentView(tuple(agents), identity.scope)

    @asynccontextmanager
    async def _request_view(self, request: Request) -> AsyncGenerator[tuple[Identity, AgentView]]:
        """The caller's identity and view; in passthrough mode a project URL may bring its own upstream key."""
        passthrough = self.config.server.passthrough and "project_id" in request.path_params
        credential = presented_credential(request)
        if passthrough and credential is not None and (not self.tokens.enabled or not self.tokens.identify(credential)):
            async with self._passthrough_view(int(request.path_params["project_id"]), credential) as view:
                yield Identity("passthrough", EVERYTHING), view
            return
        identity = self._authenticate(request)
        yield identity, self._view(request, identity)

    @asynccontextmanager
    async def _passthrough_view(self, project_id: int, upstream_key: str) -> AsyncGenerator[AgentView]:
        backend_config = next(iter(self.config.backends.values()), None)
        if backend_config is None:
            raise Refusal(404, "Passthrough needs a [backends.*] table for the upstream's base_url.")
        known = self._registry().by_project(project_id)
        agent_config = AgentConfig(name=f"project-{project_id}", project_id=project_id)
        client = create_client(backend_config, api_key=upstream_key)
        try:
            title = known.title if known else f"Project {project_id}"
            agent = Agent(
                name=agent_config.name,
                title=title,
                description=known.description if known else default_description(title),
                project_id=project_id,
                tools=agent_tools(agent_config, backend_config.kind),
                backend=create_backend(backend_config, agent_config, client),
            )
            yield AgentView((agent,), EVERYTHING)
        finally:
            await client.aclose()

    # -- endpoints --------------------------------------------------------------------------------

    def _guard(self, handler: Callable[[Scope, Receive, Send], Awaitable[None]]) -> ASGIApp:
        return _Guarded(handler)

    async def streamable_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        async with self._request_view(request) as (_, view):
            scope.setdefault("state", {})["agent_view"] = view
            if self.config.server.stateless:
                await cancel_on_disconnect(self._streamable, scope, receive, send)
            else:  # sessions carry notifications/cancelled to their requests themselves
                await self._streamable(scope, receive, send)

    def _sse_transport(self, request: Request) -> SseServerTransport:
        messages_path = request.url.path.rsplit("/", 1)[0] + "/messages/"
        transport = self._sse_transports.get(messages_path)
        if transport is None:
            transport = SseServerTransport(
                messages_path, security_settings=self.security, max_request_body_size=self.config.server.max_body_bytes
            )
            self._sse_transports[messages_path] = transport
        return transport

    async def sse_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        async with AsyncExitStack() as stack:
            identity, view = await stack.enter_async_context(self._request_view(request))
            transport = self._sse_transport(request)
            session: list[str] = []

            async def bind_session(message: Message) -> None:
                # The first event names the session's POST URL; bind that session to this caller.
                if not session and message["type"] == "http.response.body":
                    found = _SESSION_IN_ENDPOINT.search(message.get("body", b""))
                    if found:
                        session.append(found.group(1).decode())
                        self._sse_bindings[session[0]] = SseBinding(identity, view)
                await send(message)

            try:
                async with transport.connect_sse(scope, receive, bind_session) as (read_stream, write_stream):
                    await self.server.run(read_stream, write_stream, self.server.create_initialization_options())
            except ValueError:
                return  # Host/Origin refused: connect_sse already answered
            finally:
                if session:
                    self._sse_bindings.pop(session[0], None)

    async def sse_message(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        transport = self._sse_transports.get(request.url.path)
        binding = self._sse_bindings.get(request.query_params.get("session_id", ""))
        if transport is None or binding is None:
            await JSONResponse(
                {"error": "not_found", "message": "No such SSE session; open a new one with GET on the /sse URL."},
                status_code=404,
            )(scope, receive, send)
            return
        credential = presented_credential(request)
        if credential is not None and self.tokens.enabled:
            presented = self.tokens.identify(credential)
            if presented is None or presented.name != binding.identity.name:
                raise Refusal(403, "This SSE session belongs to another token; open your own session.")
        scope.setdefault("state", {})["agent_view"] = binding.view
        await transport.handle_post_message(scope, receive, send)

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
            yield
            self.registry = None

    def starlette(self) -> Starlette:
        mcp, sse, post = self._guard(self.streamable_http), self._guard(self.sse_stream), self._guard(self.sse_message)
        routes: list[Route] = [Route("/healthz", self.healthz), Route("/readyz", self.readyz)]
        for prefix in ("", "/agents/{agent:str}", "/projects/{project_id:int}"):
            routes += [
                Route(f"{prefix}/mcp", mcp, methods=["GET", "POST", "DELETE"]),
                Route(f"{prefix}/sse", sse, methods=["GET"]),
                Route(f"{prefix}/messages/", post, methods=["POST"]),
            ]
        return Starlette(routes=routes, lifespan=self.lifespan)


def create_app(config: BridgeConfig) -> Starlette:
    return BridgeApp(config).starlette()
