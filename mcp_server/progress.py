"""Progress for long calls: the growing answer as `notifications/progress`, and a heartbeat.

Three rules the clients taught us:

* Each piece of new answer text goes out as the notification's `message`, so a client can show the
  answer arriving; the pieces concatenate to the final answer.
* While the upstream is silent, a heartbeat (no message) goes out every `keepalive` seconds: the
  TypeScript SDK and n8n give up after 60 s without a sign of life unless progress resets the clock.
* No notification immediately before the result: over HTTP+SSE a progress that lands right before the
  response is sometimes dropped by the TypeScript client ("unknown token"), so the result waits
  `gap` seconds after the last notification.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import anyio

from mcp_server.backends.base import OnDelta
from mcp_server.telemetry.metrics import STREAM_PIECES

ReportProgress = Callable[[float, float | None, str | None], Awaitable[None]]

DEFAULT_GAP_SECONDS: Final = 0.3
_TEXT_PIECES: Final = STREAM_PIECES.labels("text")
_HEARTBEATS: Final = STREAM_PIECES.labels("heartbeat")
T = TypeVar("T")


class ProgressRelay:
    def __init__(self, report: ReportProgress, *, keepalive: float, gap: float = DEFAULT_GAP_SECONDS) -> None:
        self._report = report
        self._keepalive = keepalive
        self._gap = gap
        self._sent = 0
        self._last_sent: float | None = None
        # Orders a heartbeat and a piece that meet (progress must increase). asyncio's own Lock, not
        # anyio's: anyio's yields to the event loop before taking a free lock (which under 1,000
        # streams sent each piece to the back of the ready queue before it could go out) and, even with
        # `fast_acquire`, looks up the current task and its cancel scope, per piece; asyncio's takes a
        # free lock with a flag (benchmarks/README.md, streaming). The bridge runs on asyncio only.
        self._lock = asyncio.Lock()
        # Times are `time.monotonic()`, the event loop's clock on asyncio: `anyio.current_time()` finds
        # the running async library first (sniffio), once per piece.
        self._started = 0.0

    @property
    def sent(self) -> int:
        return self._sent

    async def _send(self, message: str | None) -> None:
        async with self._lock:
            self._sent += 1
            self._last_sent = time.monotonic()
            await self._report(float(self._sent), None, message)
            (_HEARTBEATS if message is None else _TEXT_PIECES).inc()

    async def delta(self, text: str) -> None:
        await self._send(text)

    async def _heartbeat(self) -> None:
        while True:
            last = self._last_sent if self._last_sent is not None else self._started
            wait = last + self._keepalive - time.monotonic()
            if wait > 0:
                await anyio.sleep(wait)
                continue
            await self._send(None)

    async def _settle(self) -> None:
        if self._last_sent is not None:
            remaining = self._last_sent + self._gap - time.monotonic()
            if remaining > 0:
                await anyio.sleep(remaining)

    async def run(self, work: Callable[[OnDelta], Awaitable[T]]) -> T:
        """Run `work(on_delta)` with a heartbeat beside it; leave the gap before returning its result."""
        self._started = time.monotonic()
        outcome: list[T] = []
        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._heartbeat)
            try:
                outcome.append(await work(self.delta))
            except Exception as exc:  # re-raised below, outside the task group, unwrapped
                failure = exc
            finally:
                tg.cancel_scope.cancel()
        await self._settle()  # an error result, too, must not land right after a notification
        if failure is not None:
            raise failure
        return outcome[0]
