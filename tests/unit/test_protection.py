"""The protection pieces on their own, with a clock the test turns: the sliding-window rate counter,
rate limits as configured, the circuit breaker's states, and the upstream client's honouring of a
429 `Retry-After` (GET only)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from mcp_server import upstream
from mcp_server.auth import OPEN_PRINCIPAL
from mcp_server.config_loading import parse_config
from mcp_server.errors import (
    CircuitOpenError,
    ConfigError,
    RateLimitedError,
    UpstreamNotFoundError,
    UpstreamRateLimitError,
    UpstreamServerError,
)
from mcp_server.http_app import rate_limiter_for
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


def _limits(config: dict[str, object]) -> tuple[RateLimit | None, RateLimit | None]:
    """(a token's limit, the open mode's limit) under `config`."""
    limiter = rate_limiter_for(parse_config(config, source="t", env={}))
    return limiter.limit_of("token:a"), limiter.limit_of(OPEN_PRINCIPAL)


def test_by_default_a_token_gets_60_a_minute_and_the_open_mode_no_limit() -> None:
    assert _limits({}) == (RateLimit(60, 60.0, "60/minute"), None)
    set_limit = RateLimit(2, 60.0, "2/minute")
    assert _limits({"server": {"rate_limit": "2/minute"}}) == (set_limit, set_limit)  # set: the open mode too
    assert _limits({"server": {"rate_limit": "off"}}) == (None, None)


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


def _guard(clock: Clock, threshold: int = 2, window: float = 60) -> BackendGuard:
    return BackendGuard(
        "b",
        max_concurrent=4,
        queue_timeout=1,
        failure_threshold=threshold,
        open_seconds=30,
        failure_ratio=0.5,
        window_seconds=window,
        clock=clock,
    )


async def _fail(guard: BackendGuard, error: Exception) -> None:
    with pytest.raises(type(error)):
        async with guard.request():
            raise error


async def _succeed(guard: BackendGuard) -> None:
    async with guard.request():
        pass


async def test_the_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    clock = Clock()
    guard = _guard(clock)
    for _ in range(3):
        await _succeed(guard)
    await _fail(guard, UpstreamServerError("down"))
    await _fail(guard, UpstreamNotFoundError("a 404: the upstream is alive"))  # resets the count
    await _fail(guard, UpstreamServerError("down"))
    assert guard.state == "closed"  # 2 failures of 6 in the window: a third
    await _fail(guard, UpstreamServerError("down"))
    assert guard.state == "open"
    with pytest.raises(CircuitOpenError, match=r"failed 2 times in a row.*try again in 30 seconds"):
        await _succeed(guard)
    clock.now += 30
    assert guard.state == "half-open"
    async with guard.request():  # the probe; others are refused while it runs
        with pytest.raises(CircuitOpenError):
            await _succeed(guard)
    assert guard.state == "closed"


async def test_failures_interleaved_with_successes_open_the_breaker_by_their_share() -> None:
    clock = Clock()
    guard = _guard(clock, threshold=3)
    for _ in range(2):  # conversation created, message failed: never two failures in a row
        await _succeed(guard)
        await _fail(guard, UpstreamServerError("message failed"))
        clock.now += 1
    assert guard.state == "closed"  # 2 failures: fewer than the threshold
    await _succeed(guard)
    await _fail(guard, UpstreamServerError("message failed"))
    assert guard.state == "open"  # 3 failures of 6 finished: half
    with pytest.raises(CircuitOpenError, match=r"failed 3 of its last 6 requests \(within 60 seconds\)"):
        await _succeed(guard)


async def test_failures_under_the_share_or_out_of_the_window_do_not_open_it() -> None:
    clock = Clock()
    guard = _guard(clock, threshold=3, window=10)
    for _ in range(5):  # one failure in three: under half
        await _succeed(guard)
        await _succeed(guard)
        await _fail(guard, UpstreamServerError("down"))
    assert guard.state == "closed"
    guard = _guard(clock, threshold=3, window=10)
    for _ in range(5):  # half fail, but each pair leaves the 10-second window before the third
        await _succeed(guard)
        await _fail(guard, UpstreamServerError("down"))
        clock.now += 6
    assert guard.state == "closed"


async def test_the_window_keeps_no_more_than_its_seconds_of_buckets() -> None:
    clock = Clock()
    guard = _guard(clock, threshold=3, window=10)
    for _ in range(1000):  # successes only, one a second: old seconds are dropped as new ones come
        await _succeed(guard)
        clock.now += 1
    assert len(guard._window._buckets) <= 11  # pyright: ignore[reportPrivateUsage]


async def test_only_the_probe_decides_while_the_breaker_is_open() -> None:
    clock = Clock()
    guard = _guard(clock)
    async with guard.request():  # started before the breaker opened, finishes after
        await _fail(guard, UpstreamServerError("down"))
        await _fail(guard, UpstreamServerError("down"))
        assert guard.state == "open"
    assert guard.state == "open"  # its success did not close the breaker
    clock.now += 30
    await _succeed(guard)  # the probe
    assert guard.state == "closed"
    await _fail(guard, UpstreamServerError("down"))
    assert guard.state == "closed"  # fresh counts: one failure


async def test_a_failed_probe_reopens_the_breaker() -> None:
    clock = Clock()
    guard = _guard(clock, threshold=1)
    await _fail(guard, UpstreamServerError("down"))
    clock.now += 30
    await _fail(guard, UpstreamServerError("still down"))
    assert guard.state == "open"
    with pytest.raises(CircuitOpenError, match="failed again when the bridge tried it after a pause"):
        await _succeed(guard)


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
