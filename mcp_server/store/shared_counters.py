"""Rate counters in the shared store: every worker and replica counts the same calls.

A sliding log per key (`agent-bridge:rate:<digest>`, a sorted set of event times in milliseconds), kept
and checked by one Lua script so that concurrent hits cannot both take the last place; the key expires
with its window. The store's clock is the one clock: replicas need not agree on theirs.

If the store does not answer, the call goes through (protection must not take the bridge down) and a
warning is logged at most once a minute."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Final, cast

from mcp_server.errors import StoreUnavailableError
from mcp_server.store.shared import SharedStore, digest

logger = logging.getLogger(__name__)

WARN_EVERY_SECONDS: Final = 60.0

# KEYS[1] the log; ARGV: limit, window (ms), a unique member. Returns -1 when counted, else the ms to wait.
_HIT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(0, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return -1
"""


class SharedRateCounter:
    def __init__(self, store: SharedStore, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._clock = clock
        self._warned_at: float | None = None

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> float | None:
        window_ms = max(1, int(window_seconds * 1000))
        try:
            async with self._store.reaching() as client:
                wait_ms = await cast(
                    "Awaitable[int]",
                    client.eval(_HIT, 1, SharedStore.key("rate", digest(key)), limit, window_ms, uuid.uuid4().hex),
                )
        except StoreUnavailableError as exc:
            self._warn(str(exc))
            return None
        return None if int(wait_ms) < 0 else int(wait_ms) / 1000

    def _warn(self, reason: str) -> None:
        now = self._clock()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning("rate limits are not enforced for now: %s", reason)
