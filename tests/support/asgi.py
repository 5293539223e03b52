"""ASGI scopes for tests that call an ASGI app or the bridge's transports in-process."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Scope

LOCAL_HOST = "127.0.0.1:8000"


def http_scope(method: str, path: str, *, query: str = "", headers: Mapping[str, str] | None = None) -> Scope:
    """An HTTP request's scope as uvicorn builds it (client 127.0.0.1 to server 127.0.0.1:8000), carrying
    exactly `headers` (names lower-cased)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }
