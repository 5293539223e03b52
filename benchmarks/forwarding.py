"""CPU, throughput and memory of one forwarded MCP `tools/call`, Agent Bridge against its peers.

    .venv/bin/python benchmarks/forwarding.py [--calls 2000] [--concurrency 8]

Starts the sandbox upstream, then each server in turn as a real process pinned to CPU core 1 (the
load generator runs on core 0), sends the same stateless Streamable HTTP `tools/call list_sources`
(two upstream GETs each) at protocol 2025-11-25, and prints a table: wall time, calls/s, the server
process's CPU milliseconds per call (from /proc, user+system) and its resident memory afterwards.

Peers: `bare` (Starlette + httpx2, JSON-RPC by hand: the floor), `minimal` (the SDK's MCPServer with
one forwarding tool), and `agent-bridge serve`.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2

from mcp_server import launch

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def _process(command: list[str], port: int) -> Generator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["taskset", "-c", "1", *command], stdout=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(10)


async def _load(url: str, calls: int, concurrency: int) -> tuple[float, int]:
    failures = 0
    next_id = iter(range(1, calls + 1))
    async with httpx2.AsyncClient(headers=HEADERS, timeout=30) as client:

        async def worker() -> None:
            nonlocal failures
            for i in next_id:
                body = {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "tools/call",
                    "params": {"name": "list_sources", "arguments": {"page": 1}},
                }
                response = await client.post(url, json=body)
                if response.status_code != 200 or '"isError":true' in response.text or "result" not in response.text:
                    failures += 1

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
        return time.perf_counter() - started, failures


def _measure(name: str, command: list[str], port: int, path: str, calls: int, concurrency: int) -> list[str]:
    url = f"http://127.0.0.1:{port}{path}"
    with _process(command, port) as process:
        anyio.run(_load, url, min(200, calls), concurrency)  # warm-up
        cpu_before = _cpu_seconds(process.pid)
        wall, failures = anyio.run(_load, url, calls, concurrency)
        cpu = _cpu_seconds(process.pid) - cpu_before
        rss = _rss_mib(process.pid)
    return [
        name,
        str(calls),
        f"{wall:.2f}",
        f"{calls / wall:.0f}",
        f"{cpu * 1000 / calls:.2f}",
        f"{rss:.0f}",
        str(failures),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    rows: list[list[str]] = []
    with launch.running(["sandbox", "--port", "0"], quiet=True) as sandbox, tempfile.TemporaryDirectory() as tmp:
        peers = Path(__file__).with_name("peers.py")
        for kind in ("bare", "minimal"):
            port = _free_port()
            command = [sys.executable, str(peers), kind, sandbox.url, str(port)]
            rows.append(_measure(f"peer: {kind}", command, port, "/mcp", args.calls, args.concurrency))
        port = _free_port()
        config = Path(tmp) / "bench.toml"
        config.write_text(
            f'[backends.customgpt]\napi_key = "sandbox-key"\nbase_url = "{sandbox.url}"\n'
            '[[agents]]\nname = "support"\nproject_id = 1\n'
        )
        command = [sys.executable, "-m", "mcp_server", "serve", "--config", str(config), "--port", str(port)]
        rows.append(_measure("agent-bridge serve", command, port, "/agents/support/mcp", args.calls, args.concurrency))
    header = ["server", "calls", "wall s", "calls/s", "CPU ms/call", "RSS MiB", "failures"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
