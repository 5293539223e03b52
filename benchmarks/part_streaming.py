"""Part `streaming`: `Options.streams` concurrent streamed `ask` calls (each with a progress token) in
flight on one Agent Bridge worker, against a sandbox that drips its answer one piece every
`Options.drip` seconds.

Reported: whether every call completed with a result; the piece-to-progress latency; the server's
memory per call in flight ((peak RSS while the calls are in flight - RSS before) / N).

How the latency is measured: the sandbox stamps no time on its pieces, so the exact moment a piece left
the upstream is unknown. Each call's progress notifications (one per piece: the bridge relays each piece
as the notification's `message`) arrive `drip` seconds apart when nothing is late; the figure is each
arrival gap minus `drip` (0 when negative), p50/p99 over all gaps of all calls. It counts delay the
bridge adds to a piece relative to the piece before it; a delay shared equally by all pieces of a call
(e.g. a slow first byte) is not in it, and the sandbox's and this client's own lateness (both share the
client core) is. The first piece's delay is reported separately as time to first progress.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import anyio
import httpx2
import stack
import wire
from load import percentile
from options import Options
from part_memory import raise_open_file_limit
from procs import Running, rss_kib
from table import render

TARGET_P99_MS = 50.0
SHORT_QUESTION = "How long are backups kept on the Pro plan?"


@dataclass
class Outcome:
    arrivals: list[float] = field(default_factory=list[float])  # perf_counter of each progress with a message
    completed: bool = False
    first_progress: float | None = None  # seconds from sending the call
    error: str | None = None  # what went wrong, for the summary line


async def _streamed_call(client: httpx2.AsyncClient, url: str, conversation: str, index: int, out: Outcome) -> None:
    body = wire.tool_call(
        "ask",
        {"question": SHORT_QUESTION, "conversation_id": conversation},
        "2025-11-25",
        request_id=index,
        progress=f"p{index}",
    )
    sent = time.perf_counter()
    async with client.stream("POST", url, json=body, headers=wire.mcp_headers("2025-11-25")) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("method") == "notifications/progress":
                if message["params"].get("message"):
                    now = time.perf_counter()
                    out.arrivals.append(now)
                    if out.first_progress is None:
                        out.first_progress = now - sent
            elif "result" in message:
                out.completed = not message["result"].get("isError", False)
                if not out.completed:
                    out.error = str(message["result"].get("content", [{}])[0].get("text", ""))[:200]
            elif "error" in message:
                out.error = str(message["error"].get("message", ""))[:200]
        if response.status_code != 200:
            out.error = f"HTTP {response.status_code}"


class PeakRss:
    """The largest RSS of a process, sampled every 0.1 s by a thread until `stop()`."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._pid = pid
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stopped.wait(0.1):
            self.peak = max(self.peak, rss_kib(self._pid))

    def stop(self) -> int:
        self._stopped.set()
        self._thread.join()
        return self.peak


async def _run_streams(
    process: Running, url: str, conversation: str, count: int
) -> tuple[list[Outcome], int, int, float]:
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=0)
    outcomes = [Outcome() for _ in range(count)]
    async with httpx2.AsyncClient(timeout=300, limits=limits) as client:
        await _streamed_call(client, url, conversation, 0, Outcome())  # warm-up
        before = rss_kib(process.pid)
        peak = PeakRss(process.pid)
        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for index, outcome in enumerate(outcomes, start=1):
                tg.start_soon(_streamed_call, client, url, conversation, index, outcome)
        wall = time.perf_counter() - started
        return outcomes, before, peak.stop(), wall


def _row(name: str, options: Options, outcomes: list[Outcome], grown_kib: int, wall: float) -> list[str]:
    completed = sum(o.completed for o in outcomes)
    gaps = [
        max(0.0, (later - earlier - options.drip) * 1000)
        for o in outcomes
        for earlier, later in zip(o.arrivals, o.arrivals[1:], strict=False)
    ]
    firsts = [o.first_progress * 1000 for o in outcomes if o.first_progress is not None]
    pieces = sum(len(o.arrivals) for o in outcomes) / len(outcomes) if outcomes else 0
    p99 = percentile(gaps, 0.99)
    print(f"  streaming {name}: {completed}/{options.streams} complete, piece-to-progress p99 {p99:.1f} ms", flush=True)
    errors = Counter(o.error or "no result" for o in outcomes if not o.completed)
    for error, count in errors.most_common(3):
        print(f"    {count} calls failed: {error}", flush=True)
    return [
        name,
        str(options.streams),
        str(completed),
        f"{options.drip:g}",
        f"{pieces:.0f}",
        f"{percentile(gaps, 0.5):.1f}",
        f"{p99:.1f}",
        f"{percentile(firsts, 0.5):.0f}/{percentile(firsts, 0.99):.0f}",
        f"{grown_kib / options.streams:.1f}",
        f"{wall:.1f}",
    ]


def run(options: Options) -> tuple[str, list[list[str]]]:
    raise_open_file_limit(4 * options.streams + 1000)
    corpus = stack.write_corpus(options.work / "streaming-corpus")
    rows: list[list[str]] = []
    with stack.running_sandbox(corpus, drip=options.drip) as upstream:
        # 1,000 calls in flight means 1,000 upstream streams: the backend's pool (100 by default) must allow it.
        config = stack.write_bridge_config(
            options.work / "streaming-bridge.toml",
            upstream.url,
            sessions=options.streams,
            upstream_connections=options.upstream_pool or options.streams,
        )
        for server in (stack.bridge(config),):
            with stack.serving(server) as process:
                url = process.url + server.mcp_path
                conversation = wire.new_bridge_conversation(url)
                outcomes, before, peak, wall = anyio.run(_run_streams, process, url, conversation, options.streams)
            rows.append(_row(server.name, options, outcomes, peak - before, wall))
    header = ["server", "calls", "completed", "drip s", "progress/call", "lag p50 ms", "lag p99 ms"]
    header += ["first progress p50/p99 ms", "KiB per call in flight", "wall s"]
    table = render("streamed ask on one worker (progress tokens, slow-drip upstream)", header, rows)
    targets: list[list[str]] = []
    for row in rows:
        completed, p99 = int(row[2]), float(row[6])
        targets += [
            [
                f"{options.streams} streamed calls all complete",
                f"{completed}/{options.streams}",
                _met(completed == options.streams),
            ],
            [f"piece-to-progress p99 < {TARGET_P99_MS:g} ms", f"{p99:.1f} ms", _met(p99 < TARGET_P99_MS)],
        ]
    return table, targets


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"
