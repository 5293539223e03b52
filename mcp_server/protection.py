"""Protection of the upstream: a rate limit per token, and per backend a bound on concurrent requests
and a circuit breaker. Every CustomGPT message costs a query credit, so a flood stops here.

* `RateLimiter` counts each tool call and resource read of a principal (token, passthrough key, OAuth
  grant, the open mode) in a sliding window; over its limit the call fails with `RateLimitedError`,
  naming the limit and the seconds until the next call fits. Counters live behind `store.RateCounter`.
  Unless the operator sets `server.rate_limit`, the limit is `DEFAULT_RATE` per token and none for
  the open mode (no tokens and no OAuth: the whole bridge is one user's, on loopback).
* `BackendGuard` lets at most `max_concurrent` requests reach one backend at once; the others queue
  for up to `queue_timeout` seconds and then fail with `UpstreamBusyError`.
* Its circuit breaker counts upstream failures (5xx, timeouts, connection errors; a 4xx or a bad
  body means the upstream is alive, so it counts as a success) and opens on either of two rules:
  `failure_threshold` (N) failed requests in a row, or, within the last `window_seconds` (W), at
  least N failed requests that are at least `failure_ratio` (R) of the requests finished in that
  window. The second rule catches a backend that fails one kind of request while another succeeds:
  an `ask` whose conversation create succeeds and whose message POST fails is one failure in every
  two requests, which never makes N in a row but is a share of 0.5 (just under it once other calls
  succeed in the window, hence the default R of 0.25). Open, requests fail at once with
  `CircuitOpenError` saying why and when it will try again; after `open_seconds` one probe request
  is let through (half-open): its success closes the breaker with fresh counts, its failure opens it
  for another `open_seconds`. Outcomes of other requests that finish while it is open do not count.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import anyio

from mcp_server.errors import (
    CircuitOpenError,
    RateLimitedError,
    UpstreamBusyError,
    UpstreamConnectionError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from mcp_server.store import RateCounter

UNITS: Final = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
RATE_PATTERN: Final = r"^(off|[1-9][0-9]{0,8}/(second|minute|hour|day))$"
UNLIMITED_PRINCIPALS: Final = frozenset({"local"})  # stdio: the operator's own process
DEFAULT_RATE: Final = "60/minute"  # each token's, when server.rate_limit is not set


@dataclass(frozen=True, slots=True)
class RateLimit:
    count: int
    window_seconds: float
    text: str  # as configured: "60/minute"

    @classmethod
    def parse(cls, text: str) -> RateLimit | None:
        """`"60/minute"` (also second, hour, day), or None for `"off"`. The config validated the form."""
        if not re.fullmatch(RATE_PATTERN, text):
            raise ValueError(f"'{text}' is not a rate; write it like 60/minute (second, minute, hour, day) or off")
        if text == "off":
            return None
        count, unit = text.split("/")
        return cls(int(count), UNITS[unit], text)


class RateLimiter:
    """The rate limit of each principal: its token's own, else the server's default."""

    def __init__(
        self,
        counter: RateCounter,
        default: RateLimit | None,
        limits: Mapping[str, RateLimit | None],
        callers: Mapping[str, str] | None = None,
    ) -> None:
        self._counter = counter
        self._default = default
        self._limits = dict(limits)  # principal -> its token's limit (None: unlimited)
        self._callers = dict(callers or {})  # principal -> who it is in a refusal, if not "token '<name>'"

    def limit_of(self, principal: str) -> RateLimit | None:
        if principal in UNLIMITED_PRINCIPALS:
            return None
        return self._limits.get(principal, self._default)

    async def check(self, principal: str, name: str) -> None:
        """Count one call of `principal` (shown as `name`), or raise `RateLimitedError`."""
        limit = self.limit_of(principal)
        if limit is None:
            return
        wait = await self._counter.hit(f"rate:{principal}", limit=limit.count, window_seconds=limit.window_seconds)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            caller = self._callers.get(principal, f"token '{name}'")
            raise RateLimitedError(
                f"{caller} is over its rate limit of {limit.text}; retry in {seconds} seconds "
                "(the operator sets the limit with rate_limit in [[tokens]] or [server]).",
                retry_after=seconds,
            )


_FAILURES: Final = (UpstreamServerError, UpstreamTimeoutError, UpstreamConnectionError)


class _Window:
    """Outcomes of the requests that finished in the last `seconds`, counted per whole second (so it
    holds at most `seconds + 1` buckets however busy the backend is)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._buckets: deque[list[int]] = deque()  # [second, succeeded, failed], oldest first

    def add(self, now: float, *, failed: bool) -> None:
        self._forget_before(now)
        second = math.floor(now)
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0])
        self._buckets[-1][2 if failed else 1] += 1

    def counts(self, now: float) -> tuple[int, int]:
        """(failed, finished) within the window ending at `now`."""
        self._forget_before(now)
        failed = sum(bucket[2] for bucket in self._buckets)
        return failed, failed + sum(bucket[1] for bucket in self._buckets)

    def clear(self) -> None:
        self._buckets.clear()

    def _forget_before(self, now: float) -> None:
        horizon = now - self.seconds
        while self._buckets and self._buckets[0][0] + 1 <= horizon:
            self._buckets.popleft()


class BackendGuard:
    """The concurrency bound and circuit breaker of one backend."""

    def __init__(
        self,
        backend: str,
        *,
        max_concurrent: int,
        queue_timeout: float,
        failure_threshold: int,
        open_seconds: float,
        failure_ratio: float = 0.25,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self._slots = anyio.Semaphore(max_concurrent)
        self._queue_timeout = queue_timeout
        self._threshold = failure_threshold  # 0: no breaker
        self._ratio = failure_ratio
        self._open_seconds = open_seconds
        self._clock = clock
        self._in_a_row = 0
        self._window = _Window(window_seconds)
        self._open_until: float | None = None  # None: closed
        self._reason = ""  # why it opened, for the fail-fast message
        self._probing = False

    @property
    def state(self) -> str:
        if self._open_until is None:
            return "closed"
        return "open" if self._clock() < self._open_until or self._probing else "half-open"

    @asynccontextmanager
    async def request(self) -> AsyncGenerator[None]:
        """One upstream request: refused at once while the breaker is open, queued while every slot is
        taken; its outcome (an upstream failure escaping the block, or not) feeds the breaker."""
        probe = self._admit_through_breaker()
        try:
            acquired = self._slots.value > 0  # a free slot is taken at once, without a timeout scope
            if acquired:
                self._slots.acquire_nowait()
            else:
                with anyio.move_on_after(self._queue_timeout):
                    await self._slots.acquire()
                    acquired = True
            if not acquired:
                raise UpstreamBusyError(
                    f"the bridge already has the most requests it sends to backend '{self.backend}' at once, and "
                    f"none finished within {self._queue_timeout:g} seconds; retry shortly (the operator can raise "
                    "max_concurrent_requests or queue_timeout_seconds of the backend).",
                    retry_after=max(1.0, self._queue_timeout),
                )
            try:
                yield
            except _FAILURES:
                self._finished(failed=True, probe=probe)
                raise
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException:
                self._finished(failed=False, probe=probe)  # the upstream answered (a 4xx, a bad body): it is alive
                raise
            else:
                self._finished(failed=False, probe=probe)
            finally:
                self._slots.release()
        finally:
            if probe:
                self._probing = False

    def _admit_through_breaker(self) -> bool:
        """Whether this request is the half-open probe; raises while the breaker is open."""
        if self._open_until is None:
            return False
        wait = self._open_until - self._clock()
        if wait > 0 or self._probing:
            seconds = max(1, math.ceil(wait))
            raise CircuitOpenError(
                f"backend '{self.backend}' {self._reason}, so the bridge is not sending it requests for now; "
                f"it will try again in {seconds} seconds.",
                retry_after=seconds,
            )
        self._probing = True
        return True

    def _finished(self, *, failed: bool, probe: bool) -> None:
        if not self._threshold:
            return
        now = self._clock()
        if self._open_until is not None:  # open or half-open: only the probe's outcome counts
            if probe and failed:
                self._open(now, "failed again when the bridge tried it after a pause")
            elif probe:
                self._open_until = None  # closed, with a fresh count
                self._in_a_row = 0
                self._window.clear()
            return
        self._in_a_row = self._in_a_row + 1 if failed else 0
        self._window.add(now, failed=failed)
        if not failed:
            return
        failed_in_window, finished = self._window.counts(now)
        if self._in_a_row >= self._threshold:
            self._open(now, f"failed {self._in_a_row} times in a row")
        elif failed_in_window >= self._threshold and failed_in_window >= self._ratio * finished:
            self._open(
                now,
                f"failed {failed_in_window} of its last {finished} requests (within {self._window.seconds:g} seconds)",
            )

    def _open(self, now: float, reason: str) -> None:
        self._open_until = now + self._open_seconds
        self._reason = reason
