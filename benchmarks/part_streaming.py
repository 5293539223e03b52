"""Part `streaming`: `Options.streams` concurrent streamed `ask` calls (each with a progress token) in
flight on one Agent Bridge worker, against a sandbox that drips its answer one piece every
`Options.drip` seconds; and, as a control, the same number of answer streams read from the sandbox
directly, with no bridge between. Each twice: all calls started at once, and their starts spread
evenly over one drip interval.

Reported: whether every call completed with a result; the piece-to-progress latency; the server's
memory per call in flight ((peak RSS while the calls are in flight - RSS before) / N) and its CPU per
piece relayed (CPU seconds while the calls run / pieces; the calls' set-up is in it too), with the
kernel's part (system time: the socket reads and writes) in brackets.

How the latency is measured: the sandbox runs with `--stamp`, so each piece starts with the moment it
was sent, `[sent <time.monotonic()>] ` (CLOCK_MONOTONIC: one clock for every process on the machine).
The bridge relays each piece as a progress notification's `message`; the client takes
`time.monotonic()` when it has parsed the notification, and the lag of that piece is arrival - sent:
the sandbox's write, the bridge, and the client's own reading, together. The client and the sandbox
share one core (the bridge has the other), so their lateness is in it too; the control rows measure
that part alone: the same client reading the same number of streams from the sandbox directly
(arrival - sent, nothing between). What the bridge adds is the difference between a bridge row and
its control row. The client is aiohttp under uvloop, the cheapest at hand, to keep its share small.

Why two start patterns: the sandbox sends each stream's pieces `drip` apart from the stream's start,
so calls started together stay in step and their pieces come in bursts (`sent within 10 ms`: for each
piece, how many pieces the sandbox stamped in the 10 ms around it, median and largest); the last piece of a burst
waits behind all the others at every stage, so the burst size times the per-piece cost of each stage
is a floor under p99. Streams that started at different moments (as independent callers' do) spread
their pieces out; the second pattern shows that case.

`all in flight`: the same lag over the pieces sent after the last call's first piece, when all N calls
are streaming; before that moment the bridge is also setting up the calls still arriving (~1 ms of
CPU each, 1,000 of them within ~2 s), and the pieces of the calls already streaming wait behind that.

The older estimate is kept beside it (gap lag): each call's progress notifications arrive `drip`
seconds apart when nothing is late, so each arrival gap minus `drip` (0 when negative).
"""

from __future__ import annotations

import json
import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

import aiohttp
import anyio
import stack
import wire
from load import percentile
from options import Options
from part_memory import raise_open_file_limit
from procs import Running, cpu_times, rss_kib
from table import render

from mcp_server.sandbox.streams import STAMP_PREFIX

TARGET_P99_MS = 50.0
SHORT_QUESTION = "How long are backups kept on the Pro plan?"
BRIDGE = "agent-bridge"
CONTROL = "no bridge (control)"


@dataclass
class Outcome:
    arrivals: list[float] = field(default_factory=list[float])  # time.monotonic() at each piece's arrival
    sent: list[float] = field(default_factory=list[float])  # the sandbox's stamp on each piece
    completed: bool = False
    first_progress: float | None = None  # seconds from sending the call
    error: str | None = None  # what went wrong, for the summary line

    def piece(self, message: str, started: float) -> None:
        now = time.monotonic()
        self.arrivals.append(now)
        self.sent.append(float(message[len(STAMP_PREFIX) : message.index("]")]))
        if self.first_progress is None:
            self.first_progress = now - started


Stream = Callable[[aiohttp.ClientSession, int, "Outcome"], Coroutine[None, None, None]]


def bridge_stream(url: str, conversation: str) -> Stream:
    """One streamed `ask` through the bridge: its progress notifications carry the pieces."""

    async def call(client: aiohttp.ClientSession, index: int, out: Outcome) -> None:
        body = wire.tool_call(
            "ask",
            {"question": SHORT_QUESTION, "conversation_id": conversation},
            "2025-11-25",
            request_id=index,
            progress=f"p{index}",
        )
        started = time.monotonic()
        async with client.post(url, json=body, headers=wire.mcp_headers("2025-11-25")) as response:
            async for line in response.content:
                if not line.startswith(b"data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("method") == "notifications/progress":
                    if text := message["params"].get("message"):
                        out.piece(text, started)
                elif "result" in message:
                    out.completed = not message["result"].get("isError", False)
                    if not out.completed:
                        out.error = str(message["result"].get("content", [{}])[0].get("text", ""))[:200]
                elif "error" in message:
                    out.error = str(message["error"].get("message", ""))[:200]
            if response.status != 200:
                out.error = f"HTTP {response.status}"

    return call


def _direct_stream(upstream: str, session: str) -> Stream:
    """The same answer stream read from the sandbox itself (the request the bridge sends for `ask`)."""
    url = f"{upstream}/api/v1/projects/{stack.BENCH_PROJECT}/conversations/{session}/messages"

    async def call(client: aiohttp.ClientSession, index: int, out: Outcome) -> None:
        started = time.monotonic()
        body = {"prompt": SHORT_QUESTION}
        params = {"stream": "true"}
        async with client.post(url, json=body, params=params, headers=wire.UPSTREAM_HEADERS) as response:
            async for line in response.content:
                if not line.startswith(b"data:"):
                    continue
                frame = json.loads(line[5:])
                if frame.get("status") == "progress":
                    out.piece(frame["message"], started)
                elif frame.get("status") == "finish":
                    out.completed = True
            if response.status != 200:
                out.error = f"HTTP {response.status}"

    return call


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


@dataclass
class Run:
    outcomes: list[Outcome]
    wall: float
    grown_kib: int | None = None  # the server's RSS growth (None: no server in between)
    cpu: tuple[float, float] | None = None  # the server's user and system CPU seconds while the calls ran


async def run_streams(stream: Stream, count: int, server: Running | None, spread: float = 0.0) -> Run:
    """`count` calls of `stream` at once (`spread`: call i starts i/count x `spread` seconds in), on
    aiohttp under uvloop: the client's own lateness is part of every figure, so it should be small."""
    outcomes = [Outcome() for _ in range(count)]
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as client:
        await stream(client, 0, Outcome())  # warm-up
        before = rss_kib(server.pid) if server else 0
        cpu_before = cpu_times(server.pid) if server else (0.0, 0.0)
        peak = PeakRss(server.pid) if server else None
        started = time.perf_counter()

        async def start(index: int, outcome: Outcome) -> None:
            await anyio.sleep(index * spread / count)
            await stream(client, index, outcome)

        async with anyio.create_task_group() as tg:
            for index, outcome in enumerate(outcomes, start=1):
                if spread:
                    tg.start_soon(start, index, outcome)
                else:
                    tg.start_soon(stream, client, index, outcome)
        run = Run(outcomes, time.perf_counter() - started)
        if server and peak:
            user, system = cpu_times(server.pid)
            run.cpu = (user - cpu_before[0], system - cpu_before[1])
            run.grown_kib = peak.stop() - before
        return run


def measure(stream: Stream, count: int, server: Running | None, spread: float = 0.0) -> Run:
    return anyio.run(run_streams, stream, count, server, spread, backend_options={"use_uvloop": True})


def _burst_sizes(stamps: list[float], window: float) -> list[int]:
    """For each stamp, how many stamps (itself included) fall within `window` seconds centred on it."""
    ordered = sorted(stamps)
    half = window / 2
    return [bisect_right(ordered, t + half) - bisect_left(ordered, t - half) for t in ordered]


def row(name: str, drip: float, streams: int, run: Run) -> list[str]:
    outcomes = run.outcomes
    completed = sum(o.completed for o in outcomes)
    lags = [(arrived - sent) * 1000 for o in outcomes for arrived, sent in zip(o.arrivals, o.sent, strict=True)]
    gaps = [
        max(0.0, (later - earlier - drip) * 1000)
        for o in outcomes
        for earlier, later in zip(o.arrivals, o.arrivals[1:], strict=False)
    ]
    firsts = [o.first_progress * 1000 for o in outcomes if o.first_progress is not None]
    pieces = sum(len(o.arrivals) for o in outcomes)
    bursts = [float(n) for n in _burst_sizes([s for o in outcomes for s in o.sent], 0.010)]
    # Once every call is in flight: pieces sent after the last call's first piece (before that, the
    # bridge is also setting up the calls still arriving, ~1 ms of CPU each, between pieces).
    in_flight = max((o.sent[0] for o in outcomes if o.sent), default=0.0)
    steady = [(a - s) * 1000 for o in outcomes for a, s in zip(o.arrivals, o.sent, strict=True) if s > in_flight]
    p99 = percentile(lags, 0.99)
    print(f"  streaming {name}: {completed}/{streams} complete, piece lag p99 {p99:.1f} ms", flush=True)
    errors = Counter(o.error or "no result" for o in outcomes if not o.completed)
    for error, count in errors.most_common(3):
        print(f"    {count} calls failed: {error}", flush=True)
    return [
        name,
        str(streams),
        str(completed),
        f"{drip:g}",
        f"{pieces / len(outcomes) if outcomes else 0:.0f}",
        f"{percentile(bursts, 0.5):.0f}/{max(bursts, default=0)}",
        f"{percentile(lags, 0.5):.1f}",
        f"{p99:.1f}",
        f"{percentile(steady, 0.5):.1f}/{percentile(steady, 0.99):.1f}",
        f"{percentile(gaps, 0.5):.1f}/{percentile(gaps, 0.99):.1f}",
        f"{percentile(firsts, 0.5):.0f}/{percentile(firsts, 0.99):.0f}",
        "-"
        if run.cpu is None or not pieces
        else f"{sum(run.cpu) / pieces * 1e6:.0f} ({run.cpu[1] / pieces * 1e6:.0f})",
        "-" if run.grown_kib is None else f"{run.grown_kib / streams:.1f}",
        f"{run.wall:.1f}",
    ]


def run(options: Options) -> tuple[str, list[list[str]]]:
    raise_open_file_limit(4 * options.streams + 1000)
    corpus = stack.write_corpus(options.work / "streaming-corpus")
    rows: list[list[str]] = []
    with stack.running_sandbox(corpus, drip=options.drip, stamp=True) as upstream:
        # 1,000 calls in flight means 1,000 upstream streams: the backend's pool (100 by default) must allow it.
        config = stack.write_bridge_config(
            options.work / "streaming-bridge.toml",
            upstream.url,
            sessions=options.streams,
            upstream_connections=options.upstream_pool or options.streams,
        )
        server = stack.bridge(config)
        together, spread = "starts together", "starts spread over 1 drip"
        for how, offset in ((together, 0.0), (spread, options.drip)):
            # A fresh bridge per pattern: memory a process has freed stays in its RSS, so a second run in
            # the same process would show (almost) no growth.
            with stack.serving(server) as process:
                url = process.url + server.mcp_path
                bridged = bridge_stream(url, wire.new_bridge_conversation(url))
                run = measure(bridged, options.streams, process, offset)
            rows.append(row(f"{server.name}, {how}", options.drip, options.streams, run))
        direct = _direct_stream(upstream.url, wire.new_upstream_conversation(upstream.url))
        for how, offset in ((together, 0.0), (spread, options.drip)):
            run = measure(direct, options.streams, None, offset)
            rows.append(row(f"{CONTROL}, {how}", options.drip, options.streams, run))
    header = ["server", "calls", "completed", "drip s", "progress/call", "sent within 10 ms p50/max"]
    header += ["lag p50 ms", "lag p99 ms", "all in flight: lag p50/p99 ms", "gap lag p50/p99 ms"]
    header += ["first progress p50/p99 ms"]
    header += ["server CPU us per piece (kernel)", "KiB per call in flight", "wall s"]
    table = render("streamed ask on one worker (progress tokens, slow-drip upstream)", header, rows)
    completed = [int(r[2]) for r in rows[:2]]
    measured = " and ".join(f"{c}/{options.streams}" for c in completed)
    everything = all(c == options.streams for c in completed)
    targets = [[f"{options.streams} streamed calls all complete", measured, _met(everything)]]
    for bridged_row, control_row in ((rows[0], rows[2]), (rows[1], rows[3])):
        how = bridged_row[0].split(", ", 1)[1]
        p99, steady_p99 = float(bridged_row[7]), float(bridged_row[8].split("/")[1])
        label = f"piece-to-progress p99 < {TARGET_P99_MS:g} ms, {how} (control: {control_row[7]} ms)"
        targets.append([label, f"{p99:.1f} ms", _met(p99 < TARGET_P99_MS)])
        label = f"  the same, once all calls are in flight (control: {control_row[8].split('/')[1]} ms)"
        targets.append([label, f"{steady_p99:.1f} ms", _met(steady_p99 < TARGET_P99_MS)])
    return table, targets


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"
