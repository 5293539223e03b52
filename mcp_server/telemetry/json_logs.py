"""`--log-format json`: one JSON object per line, each with the id of the HTTP request it belongs to.

Fields: `time` (UTC, ISO 8601), `level`, `logger`, `message`, `request_id` (inside an HTTP request),
and `exception` (the traceback) when there is one. The message is the one the text format shows,
after the same redaction filter (session ids hashed); arguments and extra record attributes are not
copied, so nothing reaches the log that the text format would not show.

The request id is the caller's `X-Request-Id` when it is a short plain token (so a proxy's id
follows the request through), else a fresh one; it is sent back as `X-Request-Id`.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: Final[ContextVar[str | None]] = ContextVar("agent_bridge_request_id", default=None)
_PLAIN_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
FORMATS: Final = ("text", "json")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def active() -> bool:
    """Whether the root logger writes JSON (request ids are only made when something logs them)."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


class RequestIds:
    """ASGI middleware: a request id for every HTTP request, in the log context and the response headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _PLAIN_ID.fullmatch(given) else secrets.token_hex(8)
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
