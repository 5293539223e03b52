"""Part `ask`: `tools/call ask` over stateless Streamable HTTP at each concurrency and protocol, for Agent
Bridge, the FastMCP peer (validate_output off, and defaults), the bare proxy and the upstream itself.

Every server runs alone on the server core while the load generator and the sandbox share the client
core. CPU per call is the server process's user+system time over the run (from /proc) divided by the
calls it answered; for the `upstream direct` row it is the sandbox's own. Each figure is the median of
`Options.runs` runs; the ratios compare calls/s at the same protocol and concurrency.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import stack
import wire
from load import run_load
from options import Options
from procs import cpu_seconds
from table import median, ratio, render

PEER_OFF = "fastmcp (validate_output off)"
PEER_DEFAULTS = "fastmcp (defaults)"
BARE = "bare starlette+httpx2"
UPSTREAM = "upstream direct (sandbox)"
BRIDGE = "agent-bridge"


@dataclass(frozen=True, slots=True)
class Cell:
    server: str
    protocol: str  # "-" where the server speaks no MCP (the same figures serve both protocols)
    concurrency: int
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    failed: int


@dataclass(frozen=True, slots=True)
class Target:
    """One row of the table: a request to load one process with."""

    server: str
    protocol: str
    pid: int
    call: wire.Call


@dataclass
class Samples:
    per_second: list[float] = field(default_factory=list[float])
    p50_ms: list[float] = field(default_factory=list[float])
    p99_ms: list[float] = field(default_factory=list[float])
    cpu_ms: list[float] = field(default_factory=list[float])
    failed: int = 0


def _sample(target: Target, concurrency: int, seconds: float, into: Samples) -> None:
    before = cpu_seconds(target.pid)
    result = run_load(target.call, concurrency, seconds)
    spent = cpu_seconds(target.pid) - before
    into.per_second.append(result.per_second)
    into.p50_ms.append(result.p50_ms)
    into.p99_ms.append(result.p99_ms)
    into.cpu_ms.append(spent * 1000 / result.calls if result.calls else 0.0)
    into.failed += result.failed


def measure(targets: list[Target], options: Options) -> list[Cell]:
    """Every target at every concurrency, `options.runs` times. The runs are interleaved (run 1 of every
    row, then run 2 of every row, ...) so that a burst of other work on a shared machine lands on all
    rows alike instead of on whichever server happened to be measured then."""
    for target in targets:
        wire.check_answer(target.call)
        run_load(target.call, 4, min(1.0, options.seconds))  # warm-up: imports, pools, caches
    samples = {(t.server, t.protocol, c): Samples() for t in targets for c in options.concurrencies}
    for run_number in range(1, options.runs + 1):
        for concurrency in options.concurrencies:
            for target in targets:
                _sample(target, concurrency, options.seconds, samples[target.server, target.protocol, concurrency])
        print(f"  ask: run {run_number} of {options.runs} done", flush=True)
    return [
        Cell(
            server,
            protocol,
            concurrency,
            median(s.per_second),
            median(s.p50_ms),
            median(s.p99_ms),
            median(s.cpu_ms),
            s.failed,
        )
        for (server, protocol, concurrency), s in samples.items()
    ]


def run(options: Options, fastmcp_python: Path) -> list[Cell]:
    """All servers run at once (idle ones cost nothing), so their runs can be interleaved."""
    corpus = stack.write_corpus(options.work / "ask-corpus")
    with stack.running_sandbox(corpus) as upstream, ExitStack() as servers:
        config = stack.write_bridge_config(options.work / "ask-bridge.toml", upstream.url)
        session = wire.new_upstream_conversation(upstream.url)
        targets: list[Target] = []
        for server in (
            stack.bridge(config),
            stack.fastmcp(fastmcp_python, upstream.url, validate_output=False),
            stack.fastmcp(fastmcp_python, upstream.url, validate_output=True),
            stack.bare(upstream.url),
        ):
            process = servers.enter_context(stack.serving(server))
            mcp_url = process.url + server.mcp_path
            conversation = wire.new_bridge_conversation(mcp_url) if server.kind == "bridge" else session
            for protocol in wire.PROTOCOLS if server.kind != "bare" else ("2025-11-25",):
                call = wire.ask_call(server.kind, mcp_url, conversation, protocol)
                targets.append(Target(server.name, protocol if server.kind != "bare" else "-", process.pid, call))
        targets.append(Target(UPSTREAM, "-", upstream.pid, wire.upstream_call(upstream.url, session)))
        return measure(targets, options)


def _find(cells: list[Cell], server: str, protocol: str, concurrency: int) -> Cell | None:
    for cell in cells:
        if cell.server == server and cell.protocol in (protocol, "-") and cell.concurrency == concurrency:
            return cell
    return None


def report(cells: list[Cell], title: str = "ask over stateless Streamable HTTP") -> str:
    """One table per protocol. `x ...` columns: calls/s over the reference's at the same c; `cpu x ...`:
    the reference's CPU ms per call over this row's (calls one core could serve, relative), which a busy
    machine disturbs less than calls/s."""
    header = ["server", "c", "calls/s", "p50 ms", "p99 ms", "CPU ms/call", "failed", "x peer(off)", "x peer(def)"]
    header += ["x bare", "cpu x peer(off)", "cpu x bare"]
    out: list[str] = []
    protocols = sorted({c.protocol for c in cells if c.protocol != "-"}) or ["-"]
    for protocol in protocols:
        rows: list[list[str]] = []
        for cell in cells:
            if cell.protocol not in (protocol, "-"):
                continue
            off = _find(cells, PEER_OFF, protocol, cell.concurrency)
            defaults = _find(cells, PEER_DEFAULTS, protocol, cell.concurrency)
            bare = _find(cells, BARE, protocol, cell.concurrency)
            rows.append(
                [
                    cell.server,
                    str(cell.concurrency),
                    f"{cell.per_second:.0f}",
                    f"{cell.p50_ms:.1f}",
                    f"{cell.p99_ms:.1f}",
                    f"{cell.cpu_ms:.2f}",
                    str(cell.failed),
                    ratio(cell.per_second, off.per_second) if off else "-",
                    ratio(cell.per_second, defaults.per_second) if defaults else "-",
                    ratio(cell.per_second, bare.per_second) if bare else "-",
                    ratio(off.cpu_ms, cell.cpu_ms) if off else "-",
                    ratio(bare.cpu_ms, cell.cpu_ms) if bare else "-",
                ]
            )
        out.append(render(f"{title}, protocol {protocol}", header, rows))
    return "\n".join(out)


def targets(cells: list[Cell]) -> list[list[str]]:
    """Rows of the targets table for Agent Bridge: (target, measured, met?)."""
    rows: list[list[str]] = []
    for protocol, wanted in (("2025-11-25", 2.0), ("2026-07-28", 3.0)):
        for cell in cells:
            if cell.server != BRIDGE or cell.protocol != protocol:
                continue
            peer = _find(cells, PEER_OFF, protocol, cell.concurrency)
            bare = _find(cells, BARE, protocol, cell.concurrency)
            if peer and cell.cpu_ms:
                got = peer.cpu_ms / cell.cpu_ms
                rows.append(
                    [
                        f"ask {protocol} c={cell.concurrency} CPU/call vs peer(off) >= {wanted:g}x",
                        f"{got:.2f}x",
                        _met(got >= wanted),
                    ]
                )
            if peer and peer.per_second:
                got = cell.per_second / peer.per_second
                rows.append(
                    [
                        f"ask {protocol} c={cell.concurrency} vs peer(off) >= {wanted:g}x",
                        f"{got:.2f}x",
                        _met(got >= wanted),
                    ]
                )
            if bare and bare.per_second:
                got = cell.per_second / bare.per_second
                rows.append([f"ask {protocol} c={cell.concurrency} vs bare >= 0.6x", f"{got:.2f}x", _met(got >= 0.6)])
            if cell.concurrency == 1 and cell.p50_ms:
                got = cell.p99_ms / cell.p50_ms
                rows.append([f"ask {protocol} c=1 p99/p50 <= 3", f"{got:.1f}", _met(got <= 3)])
    return rows


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"
