"""The connect page: `/connect` (and `/` redirecting to it) for a person handing clients the right settings.

The page itself (`page.html`, `page.js`, `page.css`) is static and carries no data, so it leaks
nothing to a visitor without a token. Everything it shows comes from `/connect/info`, which takes the
token like every endpoint (a header only, never `?token=`, so it stays out of URLs and logs): the
token's name, the agents it may use and their tools, the endpoint URLs, ready-to-copy snippets for
each client (`client_snippets`, the generator behind `agent-bridge connect`; secrets referenced as
`AGENT_BRIDGE_TOKEN`, never the token itself), and the live state (ready, upstream reachable, calls
and errors in the last hour in this process). The page keeps the pasted token in the browser's
session storage only.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mcp_server.agents import Agent, AgentRegistry
from mcp_server.auth import Identity, TokenBook, presented_credential
from mcp_server.client_snippets import CLIENTS, DEFAULT_NAME, snippets
from mcp_server.config import BridgeConfig
from mcp_server.errors import ConfigError, Refusal
from mcp_server.snippet_targets import served
from mcp_server.telemetry.recent import RECENT_CALLS
from mcp_server.telemetry.upstream import LAST_ANSWERS

TOKEN_ENV: Final = "AGENT_BRIDGE_TOKEN"
_ASSETS: Final = {"page.js": "text/javascript", "page.css": "text/css"}
# The page runs only its own script and style; it may fetch from its own origin only.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

Guard = Callable[[Callable[[Request], Awaitable[Response]]], Callable[[Request], Awaitable[Response]]]


def _asset(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


class ConnectPage:
    def __init__(self, config: BridgeConfig, tokens: TokenBook, registry: Callable[[], AgentRegistry | None]) -> None:
        self._config = config
        self._tokens = tokens
        self._registry = registry
        self._html = _asset("page.html")
        self._assets = {name: (_asset(name), kind) for name, kind in _ASSETS.items()}

    def routes(self, guard: Guard) -> list[Route]:
        return [
            Route("/", self.root),
            Route("/connect", self.page),
            Route("/connect/info", guard(self.info)),
            Route("/connect/{asset:str}", self.asset),
        ]

    async def root(self, request: Request) -> Response:
        return RedirectResponse("/connect", status_code=307)

    async def page(self, request: Request) -> Response:
        return Response(self._html, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    async def asset(self, request: Request) -> Response:
        found = self._assets.get(request.path_params["asset"])
        if found is None:
            return JSONResponse({"error": "not_found", "message": "No such file of the connect page."}, 404)
        text, kind = found
        return Response(text, media_type=f"{kind}; charset=utf-8", headers=_PAGE_HEADERS)

    async def info(self, request: Request) -> Response:
        """What the token may use and how to connect to it; 401 without a valid token."""
        identity = self._tokens.authenticate(presented_credential(request, query_token=False))
        registry = self._registry()
        visible = registry.visible(identity.scope) if registry is not None else []
        chosen = request.query_params.get("agent") or None
        if chosen is not None and chosen not in {a.name for a in visible}:
            names = ", ".join(a.name for a in visible) or "none"
            raise Refusal(404, f"No agent by that name for this token. Agents you may use: {names}.")
        base = self._config.server.public_url or str(request.base_url).rstrip("/")
        body: dict[str, Any] = {
            "token": identity.name if self._tokens.enabled else None,
            "agents": [self._agent(base, identity, agent) for agent in visible],
            "endpoints": self._endpoints(base),
            "target": chosen,
            "clients": self._snippets(base, chosen) if visible else [],
            "state": self._state(registry, visible),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @staticmethod
    def _agent(base: str, identity: Identity, agent: Agent) -> dict[str, Any]:
        return {
            "name": agent.name,
            "title": agent.title,
            "tools": [t for t in agent.tools if identity.scope.allows_tool(agent.name, t)],
            "mcp_url": f"{base}/agents/{agent.name}/mcp",
            "sse_url": f"{base}/agents/{agent.name}/sse",
        }

    def _endpoints(self, base: str) -> dict[str, str]:
        endpoints = {
            "Streamable HTTP (all your agents)": f"{base}/mcp",
            "HTTP+SSE (all your agents)": f"{base}/sse",
            "ChatGPT connector (search + fetch)": f"{base}/chatgpt/mcp",
        }
        if self._config.actions.enabled:
            endpoints["ChatGPT Actions schema"] = f"{base}/actions/openapi.json"
        return endpoints

    def _snippets(self, base: str, agent: str | None) -> list[dict[str, Any]]:
        target = served(base, token_env=TOKEN_ENV if self._tokens.enabled else None, agent=agent)
        found: list[dict[str, Any]] = []
        for client, spec in CLIENTS.items():
            if client == "chatgpt-actions" and not self._config.actions.enabled:
                continue
            try:
                written = snippets(client, target, DEFAULT_NAME)
            except ConfigError:  # a client this target does not suit
                continue
            found.append(
                {
                    "client": client,
                    "title": spec.title,
                    "snippets": [{"title": s.title, "format": s.format, "text": s.text} for s in written],
                }
            )
        return found

    def _state(self, registry: AgentRegistry | None, visible: list[Agent]) -> dict[str, Any]:
        now = time.time()
        upstream = [
            {
                "backend": name,
                "reachable": answer.reachable if answer is not None else None,
                "status": answer.status if answer is not None else None,
                "error": answer.error if answer is not None else None,
                "seconds_ago": round(now - answer.at) if answer is not None else None,
            }
            for name in self._config.backends
            for answer in (LAST_ANSWERS.get(name),)
        ]
        tally = RECENT_CALLS.last_hour(now)
        return {
            "ready": registry is not None,
            "upstream": upstream if visible else [],
            "calls_last_hour": tally.calls,
            "errors_last_hour": tally.errors,
        }
