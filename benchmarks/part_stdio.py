"""Part `stdio`: `agent-bridge stdio` (environment mode, against the sandbox) from spawn to its answer to
`initialize`, the median of `Options.stdio_spawns` spawns.

The clock starts just before the process is spawned; the `initialize` request is written to its stdin
at once (a client does the same: the pipe holds it until the server reads), and the clock stops when
the line answering it (`"id":1`) arrives on stdout. The child runs on the server core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import stack
from options import Options
from procs import SERVER_CORE
from table import median, render

TARGET_SECONDS = 0.5
_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}


def spawn_to_initialize(upstream: str) -> float:
    env = {
        **os.environ,
        "CUSTOMGPT_BASE_URL": upstream,
        "CUSTOMGPT_API_KEY": "sandbox-key",
        "CUSTOMGPT_PROJECT_IDS": str(stack.BENCH_PROJECT),
    }
    command = ["taskset", "-c", str(SERVER_CORE), sys.executable, "-m", "mcp_server", "stdio"]
    started = time.perf_counter()
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(_INITIALIZE).encode() + b"\n")
        process.stdin.flush()
        while True:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"agent-bridge stdio exited (code {process.poll()}) before answering initialize")
            if b'"id":1' in line.replace(b" ", b""):
                elapsed = time.perf_counter() - started
                break
        process.stdin.close()  # end of input: the server exits
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return elapsed


def run(options: Options) -> tuple[str, list[list[str]]]:
    corpus = stack.write_corpus(options.work / "stdio-corpus")
    with stack.running_sandbox(corpus) as upstream:
        spawn_to_initialize(upstream.url)  # warm the disk cache: each spawn below starts from the same state
        times = [spawn_to_initialize(upstream.url) for _ in range(options.stdio_spawns)]
    got = median(times)
    print(f"  agent-bridge stdio: initialize answered {got:.3f} s after spawn (median)", flush=True)
    row = ["agent-bridge stdio (env mode)", str(len(times)), f"{got:.3f}", f"{min(times):.3f}", f"{max(times):.3f}"]
    table = render("stdio spawn to initialize", ["server", "spawns", "median s", "min s", "max s"], [row])
    met = "yes" if got <= TARGET_SECONDS else "NO"
    return table, [[f"stdio initialize <= {TARGET_SECONDS} s after spawn", f"{got:.3f} s", met]]
