"""The connect page's "last hour" tally (a unit test of the ring of one-minute buckets)."""

from __future__ import annotations

from mcp_server.telemetry.recent import RecentCalls, Tally

HOUR = 3600.0


def test_counts_the_last_sixty_minutes_only() -> None:
    recent = RecentCalls()
    start = 1_000_000 * 60.0
    recent.record(failed=False, now=start)
    recent.record(failed=True, now=start + 30)
    recent.record(failed=False, now=start + 59 * 60)
    assert recent.last_hour(now=start + 59 * 60) == Tally(calls=3, errors=1)
    assert recent.last_hour(now=start + HOUR) == Tally(calls=1, errors=0)  # the first minute has passed
    recent.record(failed=True, now=start + HOUR + 1)  # reuses the first minute's slot
    assert recent.last_hour(now=start + HOUR + 1) == Tally(calls=2, errors=1)
    assert recent.last_hour(now=start + 3 * HOUR) == Tally(calls=0, errors=0)
