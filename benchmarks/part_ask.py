"""Part `ask`: `tools/call ask` over stateless Streamable HTTP at each concurrency and protocol, for Agent
Bridge, the FastMCP peer (validate_output off, and defaults), the bare proxy and the upstream itself.

Every server runs alone on the server core while the load generator and the sandbox share the client
core. CPU per call is the server process's user+system time over the run (from /proc) divided by the
calls it answered; for the `upstream direct` row it is the sandbox's own. Each figure is the median of
`Options.runs` runs; the ratios compare calls/s at the same protocol and concurrency.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import stack
import wire
from load import run_load
from options import Options
from procs import Running, cpu_seconds
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


def measure(name: str, protocol: str, pid: int, call: wire.Call, options: Options) -> list[Cell]:
    wire.check_answer(call)
    run_load(call, 4, min(1.0, options.seconds))  # warm-up: imports, pools, caches
    cells: list[Cell] = []
    for concurrency in options.concurrencies:
        per_second: list[float] = []
        p50: list[float] = []
        p99: list[float] = []
        cpu: list[float] = []
        failed = 0
        for _ in range(options.runs):
            before = cpu_seconds(pid)
            result = run_load(call, concurrency, options.seconds)
            spent = cpu_seconds(pid) - before
            per_second.append(result.per_second)
            p50.append(result.p50_ms)
            p99.append(result.p99_ms)
            cpu.append(spent * 1000 / result.calls if result.calls else 0.0)
            failed += result.failed
        cells.append(
            Cell(name, protocol, concurrency, median(per_second), median(p50), median(p99), median(cpu), failed)
        )
        print(f"  {name} {protocol} c={concurrency}: {median(per_second):.0f} calls/s, failed {failed}", flush=True)
    return cells


def _mcp_server(server: stack.Server, upstream: Running, options: Options, protocols: tuple[str, ...]) -> list[Cell]:
    cells: list[Cell] = []
    with stack.serving(server) as process:
        mcp_url = process.url + server.mcp_path
        if server.kind == "bridge":
            conversation = wire.new_bridge_conversation(mcp_url)
        else:
            conversation = wire.new_upstream_conversation(upstream.url)
        for protocol in protocols:
            call = wire.ask_call(server.kind, mcp_url, conversation, protocol)
            cells += measure(server.name, protocol if server.kind != "bare" else "-", process.pid, call, options)
    return cells


def run(options: Options, fastmcp_python: Path) -> list[Cell]:
    corpus = stack.write_corpus(options.work / "ask-corpus")
    cells: list[Cell] = []
    with stack.running_sandbox(corpus) as upstream:
        config = stack.write_bridge_config(options.work / "ask-bridge.toml", upstream.url)
        for server in (
            *stack.bridges(config, options.what_if),
            stack.fastmcp(fastmcp_python, upstream.url, validate_output=False),
            stack.fastmcp(fastmcp_python, upstream.url, validate_output=True),
        ):
            cells += _mcp_server(server, upstream, options, wire.PROTOCOLS)
        cells += _mcp_server(stack.bare(upstream.url), upstream, options, ("2025-11-25",))
        direct = wire.upstream_call(upstream.url, wire.new_upstream_conversation(upstream.url))
        cells += measure(UPSTREAM, "-", upstream.pid, direct, options)
    return cells


def _find(cells: list[Cell], server: str, protocol: str, concurrency: int) -> Cell | None:
    for cell in cells:
        if cell.server == server and cell.protocol in (protocol, "-") and cell.concurrency == concurrency:
            return cell
    return None


def report(cells: list[Cell], title: str = "ask over stateless Streamable HTTP") -> str:
    header = ["server", "c", "calls/s", "p50 ms", "p99 ms", "CPU ms/call", "failed", "x peer(off)", "x peer(def)"]
    header += ["x bare"]
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
                ]
            )
        out.append(render(f"{title}, protocol {protocol}", header, rows))
    return "\n".join(out)


def targets(cells: list[Cell]) -> list[list[str]]:
    """Rows of the targets table for Agent Bridge (and its what-if row): (target, measured, met?)."""
    rows: list[list[str]] = []
    for protocol, wanted in (("2025-11-25", 2.0), ("2026-07-28", 3.0)):
        for cell in cells:
            if cell.server not in (BRIDGE, stack.BRIDGE_NODELAY) or cell.protocol != protocol:
                continue
            who = "" if cell.server == BRIDGE else " (+TCP_NODELAY)"
            peer = _find(cells, PEER_OFF, protocol, cell.concurrency)
            bare = _find(cells, BARE, protocol, cell.concurrency)
            if peer and peer.per_second:
                got = cell.per_second / peer.per_second
                rows.append(
                    [
                        f"ask{who} {protocol} c={cell.concurrency} vs peer(off) >= {wanted:g}x",
                        f"{got:.2f}x",
                        _met(got >= wanted),
                    ]
                )
            if bare and bare.per_second:
                got = cell.per_second / bare.per_second
                rows.append(
                    [f"ask{who} {protocol} c={cell.concurrency} vs bare >= 0.6x", f"{got:.2f}x", _met(got >= 0.6)]
                )
            if cell.concurrency == 1 and cell.p50_ms:
                got = cell.p99_ms / cell.p50_ms
                rows.append([f"ask{who} {protocol} c=1 p99/p50 <= 3", f"{got:.1f}", _met(got <= 3)])
    return rows


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"
