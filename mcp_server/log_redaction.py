"""A logging filter that keeps session ids out of the log.

The SDK logs MCP session ids (32 hex digits) at INFO and DEBUG when sessions open, close or are
refused. A session id is not a credential here (every request is authenticated on its own), but a
log is read by more people than the bridge's callers, so each id becomes `session#<8 hex>`: a short
one-way hash that still lets an operator follow one session through the log.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Final

_SESSION_ID: Final = re.compile(r"\b[0-9a-f]{32}\b")


def _short(match: re.Match[str]) -> str:
    return "session#" + hashlib.sha256(match.group(0).encode()).hexdigest()[:8]


def redact(text: str) -> str:
    return _SESSION_ID.sub(_short, text)


class SessionIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install(handler: logging.Handler) -> None:
    handler.addFilter(SessionIdFilter())
