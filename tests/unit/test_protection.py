"""The protection pieces on their own, with a clock the test turns: the sliding-window rate counter,
rate limits as configured, the circuit breaker's states, and the upstream client's honouring of a
429 `Retry-After` (GET only)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from mcp_server import upstream
from mcp_server.config import parse_config
from mcp_server.errors import (
    CircuitOpenError,
    ConfigError,
    RateLimitedError,
    UpstreamNotFoundError,
    UpstreamRateLimitError,
    UpstreamServerError,
)
from mcp_server.protection import BackendGuard, RateLimit, RateLimiter
from mcp_server.store import InProcessRateCounter
from mcp_server.upstream import UpstreamClient
from tests.support.scripted_upstream import Reply, ScriptedUpstream, json_reply, scripted_upstream

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_counter_admits_limit_events_per_sliding_window() -> None:
    clock = Clock()
    counter = InProcessRateCounter(clock=clock)
    assert [await counter.hit("k", limit=2, window_seconds=60) for _ in range(2)] == [None, None]
    clock.now += 20
    assert await counter.hit("k", limit=2, window_seconds=60) == pytest.approx(40)
    assert await counter.hit("other", limit=2, window_seconds=60) is None  # keys count apart
    clock.now += 40
    assert await counter.hit("k", limit=2, window_seconds=60) is None  # the first event left the window


def test_rates_are_read_as_configured_and_bad_ones_named() -> None:
    assert RateLimit.parse("60/minute") == RateLimit(60, 60.0, "60/minute")
    assert RateLimit.parse("off") is None
    with pytest.raises(ConfigError, match=r"tokens\[0\]\.rate_limit: '60 a minute' is not a rate; write it like"):
        parse_config({"tokens": [{"name": "a", "sha256": "0" * 64, "rate_limit": "60 a minute"}]}, source="t", env={})
    assert parse_config({}, source="t", env={}).server.rate_limit == "60/minute"  # on by default


async def test_the_limiter_names_the_limit_and_spares_stdio() -> None:
    limiter = RateLimiter(InProcessRateCounter(), RateLimit.parse("1/hour"), {"token:free": None})
    await limiter.check("token:a", "a")
    with pytest.raises(
        RateLimitedError, match="token 'a' is over its rate limit of 1/hour; retry in 3600 seconds"
    ) as caught:
        await limiter.check("token:a", "a")
    assert caught.value.retry_after == 3600
    for _ in range(3):
        await limiter.check("token:free", "free")  # its own limit: off
        await limiter.check("local", "local")  # stdio, the operator's own process


def _guard(clock: Clock, threshold: int = 2) -> BackendGuard:
    return BackendGuard(
        "b", max_concurrent=4, queue_timeout=1, failure_threshold=threshold, open_seconds=30, clock=clock
    )


async def _fail(guard: BackendGuard, error: Exception) -> None:
    with pytest.raises(type(error)):
        async with guard.request():
            raise error


async def test_the_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    clock = Clock()
    guard = _guard(clock)
    await _fail(guard, UpstreamServerError("down"))
    await _fail(guard, UpstreamNotFoundError("a 404: the upstream is alive"))  # resets the count
    await _fail(guard, UpstreamServerError("down"))
    assert guard.state == "closed"
    await _fail(guard, UpstreamServerError("down"))
    assert guard.state == "open"
    with pytest.raises(CircuitOpenError, match=r"failed 2 times in a row.*try again in 30 seconds"):
        async with guard.request():
            pass
    clock.now += 30
    assert guard.state == "half-open"
    async with guard.request():  # the probe; others are refused while it runs
        with pytest.raises(CircuitOpenError):
            async with guard.request():
                pass
    assert guard.state == "closed"


async def test_a_failed_probe_reopens_the_breaker() -> None:
    clock = Clock()
    guard = _guard(clock, threshold=1)
    await _fail(guard, UpstreamServerError("down"))
    clock.now += 30
    await _fail(guard, UpstreamServerError("still down"))
    assert guard.state == "open"


async def test_a_breaker_with_threshold_zero_never_opens() -> None:
    guard = _guard(Clock(), threshold=0)
    for _ in range(10):
        await _fail(guard, UpstreamServerError("down"))
    assert guard.state == "closed"


# -- 429 Retry-After on the upstream client -----------------------------------------------------------


@asynccontextmanager
async def _scripted(*replies: Reply) -> AsyncGenerator[tuple[UpstreamClient, ScriptedUpstream]]:
    async with scripted_upstream(*replies) as up:
        client = UpstreamClient(up.url, "k")
        try:
            yield client, up
        finally:
            await client.aclose()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    asked: list[float] = []

    async def fake_sleep(delay: float) -> None:
        asked.append(delay)

    monkeypatch.setattr(upstream.anyio, "sleep", fake_sleep)
    return asked


def _limited(seconds: str) -> Reply:
    return json_reply({"message": "slow down"}, 429, {"Retry-After": seconds})


async def test_a_get_refused_with_a_short_retry_after_is_retried_after_it(sleeps: list[float]) -> None:
    async with _scripted(_limited("2"), json_reply({"ok": 1})) as (client, up):
        assert await client.get_json("x") == {"ok": 1}
    assert up.count == 2 and sleeps == [2.0]


async def _get(client: UpstreamClient) -> object:
    return await client.get_json("x")


async def _post(client: UpstreamClient) -> object:
    return await client.post_json("x", {"q": 1})


@pytest.mark.parametrize(
    ("send", "retry_after"),
    [
        (_get, "30"),  # too long to wait inside a call: the caller hears when to retry
        (_post, "1"),  # a POST reached the upstream: never sent twice
    ],
)
async def test_other_429s_are_not_retried(
    send: Callable[[UpstreamClient], Awaitable[object]], retry_after: str, sleeps: list[float]
) -> None:
    async with _scripted(_limited(retry_after), json_reply({"ok": 1})) as (client, up):
        with pytest.raises(UpstreamRateLimitError, match=f"retry after {retry_after} seconds"):
            await send(client)
    assert up.count == 1 and sleeps == []
