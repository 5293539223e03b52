"""Sessions open now and how long they lasted, per transport (stateful Streamable HTTP, HTTP+SSE)."""

from __future__ import annotations

import time

from mcp_server.telemetry.metrics import SESSION_DURATION, SESSIONS_OPEN


class SessionClock:
    def __init__(self, transport: str) -> None:
        self._open = SESSIONS_OPEN.labels(transport)
        self._duration = SESSION_DURATION.labels(transport)
        self._started: dict[str, float] = {}

    def opened(self, key: str) -> None:
        self._started[key] = time.perf_counter()
        self._open.inc()

    def closed(self, key: str) -> None:
        """The session `key` ended; a key not (or no longer) open is ignored, so closing twice counts once."""
        started = self._started.pop(key, None)
        if started is not None:
            self._open.dec()
            self._duration.observe(time.perf_counter() - started)
