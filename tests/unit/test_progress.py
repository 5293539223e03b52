"""The progress relay without a client: pieces in order, heartbeats while the work is silent, the
work's own result or exception, and the gap between the last notification and the result."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import anyio
import pytest

from mcp_server.backends.base import OnDelta
from mcp_server.progress import DEFAULT_GAP_SECONDS, ProgressRelay

pytestmark = pytest.mark.anyio


@dataclass
class Reporter:
    """Records each notification as (progress, total, message, when)."""

    seen: list[tuple[float, float | None, str | None, float]] = field(default_factory=list)

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message, anyio.current_time()))

    @property
    def messages(self) -> list[str | None]:
        return [m for _, _, m, _ in self.seen]

    @property
    def progress(self) -> list[float]:
        return [p for p, _, _, _ in self.seen]


async def test_pieces_reach_the_reporter_in_order_and_the_result_is_the_works() -> None:
    reporter = Reporter()
    relay = ProgressRelay(reporter, keepalive=10.0, gap=0.0)

    async def work(on_delta: OnDelta) -> str:
        for piece in ("The ", "answer ", "is ", "42."):
            await on_delta(piece)
        return "The answer is 42."

    result = await relay.run(work)
    assert result == "The answer is 42."
    assert reporter.messages == ["The ", "answer ", "is ", "42."]
    assert "".join(m for m in reporter.messages if m) == result
    assert reporter.progress == [1.0, 2.0, 3.0, 4.0]  # strictly increasing, as the MCP spec requires
    assert all(total is None for _, total, _, _ in reporter.seen)
    assert relay.sent == 4


async def test_heartbeats_go_out_while_the_work_is_silent() -> None:
    reporter = Reporter()
    keepalive = 0.05
    relay = ProgressRelay(reporter, keepalive=keepalive, gap=0.0)

    async def silent_work(_: OnDelta) -> int:
        await anyio.sleep(keepalive * 5.5)
        return 7

    started = anyio.current_time()
    assert await relay.run(silent_work) == 7
    heartbeats = reporter.seen
    assert 3 <= len(heartbeats) <= 6, heartbeats
    assert all(message is None for _, _, message, _ in heartbeats)  # a heartbeat carries no text
    assert reporter.progress == [float(n) for n in range(1, len(heartbeats) + 1)]
    # The first one waits a full keepalive, and they are about a keepalive apart.
    times = [started] + [when for *_, when in heartbeats]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= keepalive * 0.9 for g in gaps), gaps


async def test_no_heartbeat_while_pieces_keep_arriving() -> None:
    reporter = Reporter()
    relay = ProgressRelay(reporter, keepalive=0.2, gap=0.0)

    async def chatty_work(on_delta: OnDelta) -> None:
        for i in range(8):
            await on_delta(str(i))
            await anyio.sleep(0.03)

    await relay.run(chatty_work)
    assert reporter.messages == [str(i) for i in range(8)]


async def test_a_heartbeat_follows_a_piece_after_a_silence() -> None:
    reporter = Reporter()
    relay = ProgressRelay(reporter, keepalive=0.05, gap=0.0)

    async def work(on_delta: OnDelta) -> None:
        await on_delta("first")
        await anyio.sleep(0.13)
        await on_delta("second")

    await relay.run(work)
    messages = reporter.messages
    assert messages[0] == "first"
    assert messages[-1] == "second"
    assert None in messages[1:-1]  # the silence between the pieces was filled by heartbeats
    assert reporter.progress == sorted(set(reporter.progress))


async def test_quick_work_sends_nothing_and_is_not_delayed() -> None:
    reporter = Reporter()
    relay = ProgressRelay(reporter, keepalive=5.0, gap=1.0)

    async def quick(_: OnDelta) -> str:
        return "done"

    with anyio.fail_after(0.5):  # no notification went out, so there is no gap to keep
        assert await relay.run(quick) == "done"
    assert reporter.seen == []
    assert relay.sent == 0


async def test_the_result_waits_the_gap_after_the_last_notification() -> None:
    reporter = Reporter()
    gap = 0.15
    relay = ProgressRelay(reporter, keepalive=10.0, gap=gap)

    async def work(on_delta: OnDelta) -> str:
        await on_delta("last piece")
        return "answer"

    assert await relay.run(work) == "answer"
    returned = anyio.current_time()
    (*_, last_sent) = reporter.seen[-1]
    assert returned - last_sent >= gap * 0.95
    assert returned - last_sent < gap + 0.5


async def test_the_gap_counts_from_the_last_notification_not_from_the_end_of_the_work() -> None:
    reporter = Reporter()
    gap = 0.2
    relay = ProgressRelay(reporter, keepalive=10.0, gap=gap)

    async def work(on_delta: OnDelta) -> str:
        await on_delta("early piece")
        await anyio.sleep(gap)  # the gap has passed by the time the work ends
        return "answer"

    started = anyio.current_time()
    await relay.run(work)
    elapsed = anyio.current_time() - started
    assert elapsed >= gap
    assert elapsed < gap * 1.75  # not a second gap on top


async def test_the_default_gap_is_the_documented_one() -> None:
    assert DEFAULT_GAP_SECONDS == 0.3
    reporter = Reporter()
    relay = ProgressRelay(reporter, keepalive=10.0)

    async def work(on_delta: OnDelta) -> None:
        await on_delta("x")

    started = anyio.current_time()
    await relay.run(work)
    assert anyio.current_time() - started >= DEFAULT_GAP_SECONDS * 0.95


async def test_an_exception_in_the_work_propagates_unwrapped_and_stops_the_heartbeat() -> None:
    reporter = Reporter()
    relay = ProgressRelay(reporter, keepalive=0.03, gap=0.0)

    class Boom(Exception):
        pass

    async def failing(on_delta: OnDelta) -> None:
        await on_delta("partial")
        await anyio.sleep(0.08)
        raise Boom("upstream cut the stream")

    with pytest.raises(Boom, match="upstream cut the stream"):
        await relay.run(failing)
    sent = relay.sent
    assert reporter.messages[0] == "partial"
    assert sent >= 2  # heartbeats ran while the work was silent
    await anyio.sleep(0.1)
    assert relay.sent == sent  # nothing after the failure


async def test_cancelling_the_call_cancels_the_work_and_the_heartbeat() -> None:
    reporter = Reporter()
    relay = ProgressRelay(reporter, keepalive=0.02, gap=0.0)
    finished: list[bool] = []

    async def endless(_: OnDelta) -> None:
        await anyio.sleep(10)
        finished.append(True)

    with anyio.move_on_after(0.1) as scope:
        await relay.run(endless)
    assert scope.cancelled_caught
    sent = relay.sent
    assert sent >= 1
    await anyio.sleep(0.08)
    assert relay.sent == sent
    assert finished == []


async def test_an_error_result_also_waits_the_gap_after_the_last_notification() -> None:
    """A stream cut after a piece becomes an error result; it must not land right after that piece either."""
    reporter = Reporter()
    gap = 0.15
    relay = ProgressRelay(reporter, keepalive=10.0, gap=gap)

    async def work(on_delta: OnDelta) -> str:
        await on_delta("a piece")
        raise ValueError("cut")

    with pytest.raises(ValueError, match="cut"):
        await relay.run(work)
    (*_, last_sent) = reporter.seen[-1]
    assert anyio.current_time() - last_sent >= gap * 0.95
