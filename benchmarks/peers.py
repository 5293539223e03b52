"""Peers for benchmarks/forwarding.py, each a real server process forwarding one MCP tools/call
(`list_sources`: two GETs to the sandbox) so their CPU per call can be compared in the same run.

    python benchmarks/peers.py minimal UPSTREAM_URL PORT   # the SDK's MCPServer with one tool
    python benchmarks/peers.py bare UPSTREAM_URL PORT      # Starlette + httpx2, JSON-RPC by hand
    python benchmarks/peers.py ask UPSTREAM_URL PORT PROJECT  # the same for `ask` (benchmarks/run.py)

`ask` does what Agent Bridge's `ask` does upstream, without MCP: the message POST to the conversation
named by `arguments.conversation_id`, then one GET per cited document at once, and answers with the
text and the citations' titles and URLs.

Each prints `peer serving on http://127.0.0.1:PORT` when ready.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

HEADERS = {"Authorization": "Bearer sandbox-key", "Accept": "application/json"}


def _client(upstream: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(base_url=upstream, headers=HEADERS, limits=httpx2.Limits(keepalive_expiry=4.0))


async def _forward(client: httpx2.AsyncClient, page: int) -> dict[str, Any]:
    sources = (await client.get("/api/v1/projects/1/sources")).json()["data"]
    pages = (await client.get("/api/v1/projects/1/pages", params={"page": page, "limit": 20})).json()["data"]
    return {"sources": sources, "pages": pages["pages"]["data"]}


def minimal(upstream: str) -> Starlette:
    from mcp.server.mcpserver import MCPServer

    client = _client(upstream)
    server = MCPServer("minimal-forwarder")

    @server.tool()
    async def list_sources(page: int = 1) -> str:  # pyright: ignore[reportUnusedFunction]
        return json.dumps(await _forward(client, page))

    return server.streamable_http_app(stateless_http=True, json_response=False)


def bare(upstream: str) -> Starlette:
    client = _client(upstream)

    async def mcp(request: Request) -> JSONResponse:
        message = await request.json()
        page = int(message.get("params", {}).get("arguments", {}).get("page", 1))
        result = await _forward(client, page)
        return JSONResponse(
            {
                "jsonrpc": "2.0",
                "id": message["id"],
                "result": {"content": [{"type": "text", "text": json.dumps(result)}], "isError": False},
            }
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncGenerator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[Route("/mcp", mcp, methods=["POST"])], lifespan=lifespan)


async def _ask(client: httpx2.AsyncClient, project: int, session: str, question: str) -> dict[str, Any]:
    base = f"/api/v1/projects/{project}"
    sent = await client.post(f"{base}/conversations/{session}/messages", json={"prompt": question})
    message = sent.json()["data"]
    citations: dict[int, dict[str, Any]] = {}

    async def cite(citation_id: int) -> None:
        citations[citation_id] = (await client.get(f"{base}/citations/{citation_id}")).json()["data"]

    async with anyio.create_task_group() as tg:
        for citation_id in message["citations"]:
            tg.start_soon(cite, citation_id)
    return {
        "answer": message["openai_response"],
        "conversation_id": session,
        "citations": [
            {"id": str(i), "title": citations[i].get("title"), "url": citations[i].get("url")}
            for i in message["citations"]
        ],
    }


def bare_ask(upstream: str, project: int) -> Starlette:
    client = _client(upstream)

    async def mcp(request: Request) -> JSONResponse:
        message = await request.json()
        arguments = message["params"]["arguments"]
        result = await _ask(client, project, arguments["conversation_id"], arguments["question"])
        return JSONResponse(
            {
                "jsonrpc": "2.0",
                "id": message["id"],
                "result": {
                    "content": [{"type": "text", "text": json.dumps(result)}],
                    "structuredContent": result,
                    "isError": False,
                },
            }
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncGenerator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[Route("/mcp", mcp, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    kind, upstream, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    logging.disable(logging.INFO)
    if kind == "ask":
        app = bare_ask(upstream, int(sys.argv[4]))
    else:
        app = minimal(upstream) if kind == "minimal" else bare(upstream)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    print(f"peer serving on http://127.0.0.1:{port}", flush=True)
    server.run()


if __name__ == "__main__":
    main()
