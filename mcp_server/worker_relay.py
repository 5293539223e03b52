"""SSE across `--workers N`: each worker also listens on its own Unix socket, and relays a message POST
whose stream lives in another worker to that worker.

The supervisor (`agent-bridge serve`) creates a private directory (mode 0700) and names it in
`AGENT_BRIDGE_WORKER_SOCKETS`; each worker picks a node id and listens on `<dir>/<node>.sock`. A stream
announces its messages URL with `&node=<id>`; a POST that lands in another worker is forwarded over the
named worker's socket as it came (method, path and query, headers including the credential, body),
and the answer goes back as it was given. Nothing is decided on the way: the worker that owns the
stream checks Host/Origin, authenticates and authorizes the relayed request exactly like a direct one.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import httpx2
import uvicorn
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

SOCKETS_DIR_ENV: Final = "AGENT_BRIDGE_WORKER_SOCKETS"
_NODE: Final = re.compile(r"[0-9a-f]{16}")
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_RELAY_TIMEOUT_SECONDS: Final = 30.0


def is_node_id(text: str) -> bool:
    return _NODE.fullmatch(text) is not None


class WorkerRelay:
    """This worker's node id and socket, and clients to the other workers' sockets."""

    def __init__(self, directory: Path, node: str | None = None) -> None:
        self.directory = directory
        self.node = node or secrets.token_hex(8)
        self._clients: dict[str, httpx2.AsyncClient] = {}

    @classmethod
    def from_environment(cls) -> WorkerRelay | None:
        directory = os.environ.get(SOCKETS_DIR_ENV)
        return cls(Path(directory)) if directory else None

    def socket_path(self, node: str) -> Path:
        if not is_node_id(node):
            raise ValueError("not a node id")
        return self.directory / f"{node}.sock"

    @asynccontextmanager
    async def serving(self, app: ASGIApp) -> AsyncGenerator[None]:
        """Listen on this worker's socket (serving `app`) while open; close the relay clients after."""
        path = self.socket_path(self.node)
        config = uvicorn.Config(
            app,
            uds=str(path),
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        config.load()
        server.lifespan = config.lifespan_class(config)
        await server.startup()
        logger.debug("worker node %s relays SSE messages on %s", self.node, path)
        try:
            yield
        finally:
            await server.shutdown()
            path.unlink(missing_ok=True)
            for client in self._clients.values():
                await client.aclose()
            self._clients.clear()

    def _client(self, node: str) -> httpx2.AsyncClient:
        client = self._clients.get(node)
        if client is None:
            transport = httpx2.AsyncHTTPTransport(uds=str(self.socket_path(node)))
            client = httpx2.AsyncClient(transport=transport, timeout=_RELAY_TIMEOUT_SECONDS)
            self._clients[node] = client
        return client

    async def forward(self, node: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Send this request to worker `node` as it came, and its answer back as it was given."""
        if not self.socket_path(node).exists():
            await _gone()(scope, receive, send)
            return

        async def body() -> AsyncIterator[bytes]:
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return
                yield message.get("body", b"")
                more = message.get("more_body", False)

        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        headers = [(k, v) for k, v in scope["headers"] if k.decode("latin-1").lower() not in _HOP_BY_HOP]
        try:
            request = self._client(node).build_request(
                scope["method"], "http://worker" + target, headers=headers, content=body()
            )
            response = await self._client(node).send(request)
            content = await response.aread()
        except httpx2.TransportError:
            await _gone()(scope, receive, send)
            return
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.multi_items()
            if k.lower() not in _HOP_BY_HOP
        ]
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": content})


def _gone() -> JSONResponse:
    return JSONResponse(
        {"error": "not_found", "message": "No such SSE session; open a new one with GET on the /sse URL."},
        status_code=404,
    )
