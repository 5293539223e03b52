"""Part `sse`: the same `ask` over HTTP+SSE (protocol 2025-11-25) at concurrency 8, Agent Bridge against
the FastMCP peer (which serves SSE too).

A compiled generator cannot speak HTTP+SSE (the answer to a POST arrives on another, long-lived GET
stream), so the load here is 8 MCP Python SDK clients, one session each, calling `ask` back to back for
`Options.seconds`. Their own CPU is on the client core; the server's CPU per call is read from /proc.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import stack
import wire
from load import percentile
from mcp import Client
from mcp.client.sse import sse_client
from options import Options
from procs import Running, cpu_seconds
from table import median, ratio, render

CONCURRENCY = 8


async def _load(url: str, tool: str, arguments: dict[str, Any], seconds: float) -> tuple[int, float, list[float], int]:
    latencies: list[float] = []
    failed = 0
    started = time.perf_counter()
    stop = started + seconds

    async def session() -> None:
        nonlocal failed
        async with Client(sse_client(url, timeout=30), mode="legacy") as client:
            while time.perf_counter() < stop:
                sent = time.perf_counter()
                result = await client.call_tool(tool, arguments)
                latencies.append((time.perf_counter() - sent) * 1000)
                failed += bool(result.is_error)

    async with anyio.create_task_group() as tg:
        for _ in range(CONCURRENCY):
            tg.start_soon(session)
    return len(latencies), time.perf_counter() - started, latencies, failed


def _measure(server: stack.Server, process: Running, conversation: str, options: Options) -> list[str]:
    url = process.url + (server.sse_path or "/sse")
    tool, arguments = wire.ask_tool_and_arguments(server.kind, conversation)
    anyio.run(_load, url, tool, arguments, min(1.0, options.seconds))  # warm-up
    per_second: list[float] = []
    p50: list[float] = []
    p99: list[float] = []
    cpu: list[float] = []
    failed = 0
    for _ in range(options.runs):
        before = cpu_seconds(process.pid)
        calls, wall, latencies, bad = anyio.run(_load, url, tool, arguments, options.seconds)
        spent = cpu_seconds(process.pid) - before
        per_second.append(calls / wall)
        p50.append(percentile(latencies, 0.5))
        p99.append(percentile(latencies, 0.99))
        cpu.append(spent * 1000 / calls if calls else 0.0)
        failed += bad
    print(f"  {server.name} sse c={CONCURRENCY}: {median(per_second):.0f} calls/s, failed {failed}", flush=True)
    return [
        server.name,
        str(CONCURRENCY),
        f"{median(per_second):.0f}",
        f"{median(p50):.1f}",
        f"{median(p99):.1f}",
        f"{median(cpu):.2f}",
        str(failed),
    ]


def run(options: Options, fastmcp_python: Path) -> str:
    corpus = stack.write_corpus(options.work / "sse-corpus")
    rows: list[list[str]] = []
    with stack.running_sandbox(corpus) as upstream:
        config = stack.write_bridge_config(options.work / "sse-bridge.toml", upstream.url)
        servers = (
            stack.bridge(config),
            stack.fastmcp(fastmcp_python, upstream.url, validate_output=False, transport="sse"),
            stack.fastmcp(fastmcp_python, upstream.url, validate_output=True, transport="sse"),
        )
        for server in servers:
            with stack.serving(server) as process:
                if server.kind == "bridge":
                    conversation = wire.new_bridge_conversation(process.url + server.mcp_path)
                else:
                    conversation = wire.new_upstream_conversation(upstream.url)
                rows.append(_measure(server, process, conversation, options))
    peer = next((float(r[2]) for r in rows if r[0] == "fastmcp (validate_output off)"), 0.0)
    for row in rows:
        row.append(ratio(float(row[2]), peer))
    header = ["server", "c", "calls/s", "p50 ms", "p99 ms", "CPU ms/call", "failed", "x peer(off)"]
    return render("ask over HTTP+SSE (2025-11-25; 8 SDK client sessions)", header, rows)
