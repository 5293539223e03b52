"""The sandbox's control API (not part of CustomGPT's): arm and clear faults, read and reset counters.

`POST /_sandbox/faults` `{"kind", "count" (1; -1 = until cleared), "path" (regex on the request path),
"latency", "drip"}`, `DELETE /_sandbox/faults`, `GET`/`DELETE /_sandbox/stats`; all need the sandbox API key.
`PathLog` counts the raw path of every other request the sandbox receives, routed or not.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.sandbox.faults import FaultBoard, make_fault
from mcp_server.sandbox.streams import Stats

FAULTS_PATH = "/_sandbox/faults"
STATS_PATH = "/_sandbox/stats"
CONTROL_PATHS = frozenset({FAULTS_PATH, STATS_PATH})


class PathLog:
    """Pure ASGI middleware: counts each HTTP request's raw path as it arrived (before any decoding or
    routing, with `?query` when there is one) in `stats.paths`, 404s included; the control API's own
    requests are left out."""

    def __init__(self, app: ASGIApp, stats: Stats) -> None:
        self._app = app
        self._stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw: bytes | None = scope.get("raw_path")
            path = raw.decode("latin-1") if raw is not None else str(scope["path"])
            if path not in CONTROL_PATHS:
                query: bytes = scope.get("query_string") or b""
                self._stats.paths[path + ("?" + query.decode("latin-1") if query else "")] += 1
        await self._app(scope, receive, send)


class ControlAPI:
    def __init__(self, api_key: str, faults: FaultBoard, stats: Stats) -> None:
        self._api_key = api_key
        self._faults = faults
        self._stats = stats

    def _refused(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self._api_key}":
            return JSONResponse({"error": "send the sandbox API key as a Bearer token"}, status_code=401)
        return None

    async def faults(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if request.method == "DELETE":
            self._faults.clear()
            return JSONResponse({"cleared": True})
        try:
            body: Any = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            spec: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
            path = spec.get("path")
            if path is not None and not isinstance(path, str):
                raise ValueError("path must be a string (a regular expression)")
            fault = make_fault(str(spec.get("kind", "")), float(spec.get("latency") or 0), float(spec.get("drip") or 0))
            count = int(spec.get("count", 1))
            self._faults.arm(fault, count, path)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"armed": fault.kind, "count": count, "path": path})

    async def stats(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if request.method == "DELETE":
            self._stats.reset()
            return JSONResponse({"reset": True})
        return JSONResponse(self._stats.json())

    def routes(self) -> list[Route]:
        return [
            Route(FAULTS_PATH, self.faults, methods=["POST", "DELETE"]),
            Route(STATS_PATH, self.stats, methods=["GET", "DELETE"]),
        ]
