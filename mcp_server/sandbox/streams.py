"""Answer streams as the sandbox sends them, and the counters that record how each one ended."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from mcp_server.sandbox.faults import Fault

STAMP_PREFIX: Final = "[sent "  # `--stamp`: each piece starts with "[sent <time.monotonic()>] "


@dataclass(slots=True)
class Stats:
    requests: Counter[str] = field(default_factory=Counter[str])
    streams_started: int = 0
    streams_completed: int = 0
    streams_truncated: int = 0
    streams_disconnected: int = 0
    open_streams: int = 0
    hanging: int = 0  # requests held by a `hang` fault whose client has not gone away yet
    faults: Counter[str] = field(default_factory=Counter[str])
    paths: Counter[str] = field(default_factory=Counter[str])  # raw request path (+ "?query") -> count

    def reset(self) -> None:
        """Zero every counter; `open_streams` and `hanging` count what is live right now, so they stay."""
        self.requests.clear()
        self.faults.clear()
        self.paths.clear()
        self.streams_started = self.streams_completed = self.streams_truncated = self.streams_disconnected = 0

    def json(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "streams_started": self.streams_started,
            "streams_completed": self.streams_completed,
            "streams_truncated": self.streams_truncated,
            "streams_disconnected": self.streams_disconnected,
            "open_streams": self.open_streams,
            "hanging": self.hanging,
            "faults": dict(self.faults),
            "paths": dict(self.paths),
        }


class TrackedStream(StreamingResponse):
    """Counts how each answer stream ended: completed, truncated on purpose, or the client went away."""

    def __init__(
        self, body: AsyncIterator[str], stats: Stats, outcome: dict[str, bool], media_type: str = "text/event-stream"
    ) -> None:
        super().__init__(body, media_type=media_type, headers={"Cache-Control": "no-cache"})
        self._stats = stats
        self._outcome = outcome

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._stats.streams_started += 1
        self._stats.open_streams += 1
        # Starlette watches for the client's disconnect (and cancels the stream at once, even mid-drip)
        # only for ASGI spec < 2.4; at 2.4 it would notice only at the next send. Keep the watching path.
        scope = {**scope, "asgi": {**scope.get("asgi", {}), "spec_version": "2.3"}}
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stats.open_streams -= 1
            if self._outcome.get("finished"):
                self._stats.streams_completed += 1
            elif self._outcome.get("truncated"):
                self._stats.streams_truncated += 1
            else:
                self._stats.streams_disconnected += 1


def sse_event(data: dict[str, Any] | str, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


class ResetResponse(Response):
    """Starts a response, sends part of the body, then drops the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"status":"success","data":{', "more_body": True})
        # Returning with the body unfinished makes the server drop the connection.


def stamped(part: str) -> str:
    """`part` behind the moment it is sent, on the machine's CLOCK_MONOTONIC (`time.monotonic()`, the
    same clock in every process on Linux): a benchmark client subtracts it from the moment the piece
    reaches it, through whatever relayed it."""
    return f"{STAMP_PREFIX}{time.monotonic():.6f}] {part}"


async def answer_pieces(
    parts: list[str], fault: Fault | None, drip: float, outcome: dict[str, bool], *, stamp: bool = False
) -> AsyncIterator[str]:
    """The answer's pieces as a stream sends them: `drip` seconds apart (the fault's own drip wins),
    cut halfway by `truncate`; each behind its send time when `stamp`."""
    if fault is not None and fault.drip:
        drip = fault.drip
    for index, part in enumerate(parts):
        if fault is not None and fault.kind == "truncate" and index >= max(1, len(parts) // 2):
            outcome["truncated"] = True
            return
        if drip:
            await anyio.sleep(drip)
        yield stamped(part) if stamp else part
