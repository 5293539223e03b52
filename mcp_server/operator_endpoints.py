"""The operator's endpoints: `/healthz` (the process answers), `/readyz` (the agents are known and the
bridge is not stopping: a balancer may send work) and `/metrics` (Prometheus, behind a token with the
`metrics` scope when the bridge has tokens)."""

from __future__ import annotations

from collections.abc import Callable

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_server.agents import AgentRegistry
from mcp_server.auth import Refusal, TokenBook, presented_credential
from mcp_server.refusal_guard import refusing
from mcp_server.telemetry.metrics import CONTENT_TYPE, exposition
from mcp_server.worker_relay import WorkerRelay


class OperatorEndpoints:
    def __init__(
        self,
        node_id: str | None,
        tokens: TokenBook,
        registry: Callable[[], AgentRegistry | None],
        stopping: Callable[[], bool],
        relay: WorkerRelay | None = None,
    ) -> None:
        self._node_id = node_id  # `[server]`: a reload never changes it
        self._tokens = tokens
        self._registry = registry
        self._stopping = stopping
        self._relay = relay

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz),
            Route("/readyz", self.readyz),
            Route("/metrics", refusing(self.metrics)),
        ]

    async def healthz(self, request: Request) -> Response:
        body = {"status": "ok"}
        if self._node_id is not None:
            body["replica"] = self._node_id
        if self._relay is not None:
            body["node"] = self._relay.node
        return JSONResponse(body)

    async def readyz(self, request: Request) -> Response:
        # SIGTERM turns it 503 at once, so a balancer sends no new work while calls in flight finish.
        if self._stopping():
            return JSONResponse({"status": "stopping"}, status_code=503)
        registry = self._registry()
        if registry is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready", "agents": len(registry)})

    async def metrics(self, request: Request) -> Response:
        """Prometheus metrics: open without tokens (loopback), else for tokens with `scopes = ["metrics"]`."""
        if self._tokens.enabled:
            identity = self._tokens.authenticate(presented_credential(request, query_token=False))
            if not identity.scope.reads_metrics:
                raise Refusal(
                    403,
                    f"Token '{identity.name}' may not read metrics; an operator adds scopes = [\"metrics\"] "
                    "to its [[tokens]] entry (a scraper's token may have agents = []).",
                )
        body = await anyio.to_thread.run_sync(exposition)  # multiprocess mode reads every worker's files
        return Response(body, media_type=CONTENT_TYPE)
