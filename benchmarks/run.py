"""Agent Bridge side by side with its peers, in one command (issue 11).

    .venv/bin/python benchmarks/run.py [--quick] [--only ask,sse,memory,stdio,streaming] [--sessions-10k]

Builds what it needs (the FastMCP 4.1.6 peer's own virtual environment, under ~/.cache/agent-bridge-bench,
once), starts the sandbox upstream and each server as real processes (the server pinned to CPU core 1; this
harness, the load generator and the upstream on core 0) and prints Markdown tables:

  ask        `tools/call ask` (with a conversation id), stateless Streamable HTTP, c = 1, 8, 32, protocols
             2025-11-25 and 2026-07-28: Agent Bridge, FastMCP from_openapi (validate_output off; defaults),
             a bare Starlette + httpx2 proxy, the upstream called directly; calls/s, p50/p99, CPU ms/call
  sse        the same `ask` over HTTP+SSE at c = 8: Agent Bridge and FastMCP
  memory     RSS per idle session (stateful Streamable HTTP and HTTP+SSE), 1,000 sessions (10,000 with
             --sessions-10k)
  stdio      `agent-bridge stdio` spawn to `initialize` answered, median of 5
  streaming  1,000 concurrent streamed `ask` calls with progress tokens on one worker, slow-drip upstream

See benchmarks/README.md for what each figure means and the issue's targets.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Final

import part_ask
import part_memory
import part_sse
import part_stdio
import part_streaming
from fastmcp_env import FASTMCP_VERSION, ensure_fastmcp_env
from load import ensure_wrk, generator_name
from options import Options
from procs import pin_self_to_client_core
from table import render

PARTS: Final = ("ask", "sse", "memory", "stdio", "streaming")


def _options(args: argparse.Namespace, work: Path) -> Options:
    quick: bool = args.quick
    return Options(
        runs=args.runs or (1 if quick else 3),
        seconds=args.seconds or (2.0 if quick else 5.0),
        concurrencies=(1, 8, 32),
        sessions=args.sessions or (10_000 if args.sessions_10k else (200 if quick else 1_000)),
        streams=args.streams or (100 if quick else 1_000),
        drip=args.drip,
        upstream_pool=args.upstream_pool,
        stdio_spawns=args.spawns or (3 if quick else 5),
        work=work,
    )


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown",
    )
    cores = os.cpu_count()  # not `nproc`: this harness pins itself to one core before it prints this
    return (
        f"machine: {cores} cores, {cpu}; Python {platform.python_version()}; load generator: {generator_name()}; "
        f"FastMCP {FASTMCP_VERSION}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short run per figure, fewer sessions and streams")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--sessions-10k", action="store_true", help="10,000 idle sessions instead of 1,000")
    parser.add_argument("--sessions", type=int, default=0, help="idle sessions per transport (overrides the above)")
    parser.add_argument("--spawns", type=int, default=0, help="stdio spawns (default 5; 3 with --quick)")
    parser.add_argument("--runs", type=int, default=0, help="runs per figure (default 3; 1 with --quick)")
    parser.add_argument("--seconds", type=float, default=0.0, help="seconds per load run (default 5; 2 with --quick)")
    parser.add_argument("--streams", type=int, default=0, help="concurrent streamed calls (default 1000; 100 quick)")
    parser.add_argument("--drip", type=float, default=0.2, help="seconds between streamed answer pieces (0.2)")
    parser.add_argument(
        "--upstream-pool", type=int, default=0, help="streaming: the backend's max_connections (default: --streams)"
    )
    args = parser.parse_args()
    wanted = [part.strip() for part in str(args.only).split(",") if part.strip()]
    unknown = sorted(set(wanted) - set(PARTS))
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    pin_self_to_client_core()
    started = time.monotonic()
    if {"ask"} & set(wanted):
        ensure_wrk()
    print(machine(), flush=True)
    fastmcp_python = ensure_fastmcp_env() if {"ask", "sse"} & set(wanted) else None
    tables: list[str] = []
    targets: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="agent-bridge-bench-") as tmp:
        options = _options(args, Path(tmp))
        if "ask" in wanted and fastmcp_python is not None:
            cells = part_ask.run(options, fastmcp_python)
            tables.append(part_ask.report(cells))
            targets += part_ask.targets(cells)
        if "sse" in wanted and fastmcp_python is not None:
            tables.append(part_sse.run(options, fastmcp_python))
        if "memory" in wanted:
            table, rows = part_memory.run(options)
            tables.append(table)
            targets += rows
        if "stdio" in wanted:
            table, rows = part_stdio.run(options)
            tables.append(table)
            targets += rows
        if "streaming" in wanted:
            table, rows = part_streaming.run(options)
            tables.append(table)
            targets += rows
    print()
    print(machine())
    print()
    for table in tables:
        print(table)
    if targets:
        print(render("targets (issue 11)", ["target", "measured", "met"], targets))
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(took {time.monotonic() - started:.0f} s; load average at the end, 1/5/15 min: {load})")


if __name__ == "__main__":
    main()
