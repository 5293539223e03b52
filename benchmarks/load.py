"""Load generators: `wrk` (compiled; Debian's `wrk` package) when it is installed, else a Python one.

Both keep CONCURRENCY connections busy with the same request for DURATION seconds and report calls/s,
p50/p99 latency and the calls that failed: an HTTP status other than 200, or a JSON-RPC error or an
`isError` result in the body. `wrk` runs on the client core, one thread, driven by a Lua script written
for the request (`_WRK_SCRIPT`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import anyio
import httpx2
from procs import CLIENT_CORE
from wire import Call

_WRK_SCRIPT: Final = """
wrk.method = "POST"
wrk.body = [=====[{body}]=====]
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
bad = 0
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"isError":true', 1, true) or string.find(body, '"error":{{', 1, true) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format('BENCH {{"calls":%d,"seconds":%f,"p50_ms":%f,"p99_ms":%f,"failed":%d}}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    b + e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True, slots=True)
class LoadResult:
    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def ensure_wrk() -> None:
    """Install Debian's `wrk` when it is missing and this runs as root with apt-get (as on our machines and
    CI); otherwise, or if that fails, the Python generator is used and the tables say so."""
    if wrk_path() or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    print("installing Debian's wrk (the compiled load generator) with apt-get", flush=True)
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.run(step, capture_output=True, check=False).returncode != 0:
            print(f"`{' '.join(step)}` failed: using the Python load generator", flush=True)
            return


def generator_name() -> str:
    return "wrk (compiled)" if wrk_path() else "python (httpx2; install Debian's `wrk` for a compiled generator)"


def run_load(call: Call, concurrency: int, seconds: float) -> LoadResult:
    wrk = wrk_path()
    if wrk is None:
        return anyio.run(_python_load, call, concurrency, seconds)
    return _wrk_load(wrk, call, concurrency, seconds)


def _wrk_load(wrk: str, call: Call, concurrency: int, seconds: float) -> LoadResult:
    headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in call.headers.items())
    script = _WRK_SCRIPT.format(body=call.body.decode(), headers=headers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "call.lua"
        path.write_text(script)
        command = ["taskset", "-c", str(CLIENT_CORE), wrk, "-t1", f"-c{concurrency}", f"-d{seconds:g}s"]
        command += ["--timeout", "30s", "-s", str(path), call.url]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next((raw for raw in out.splitlines() if raw.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    return LoadResult(**json.loads(line.removeprefix("BENCH ")))


def _failed(response: httpx2.Response) -> bool:
    return response.status_code != 200 or '"isError":true' in response.text or '"error":{' in response.text


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _python_load(call: Call, concurrency: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    failed = 0
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(headers=call.headers, timeout=30, limits=limits) as client:
        started = time.perf_counter()
        stop = started + seconds

        async def worker() -> None:
            nonlocal failed
            while time.perf_counter() < stop:
                sent = time.perf_counter()
                response = await client.post(call.url, content=call.body)
                latencies.append((time.perf_counter() - sent) * 1000)
                failed += _failed(response)

        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
        wall = time.perf_counter() - started
    return LoadResult(len(latencies), wall, percentile(latencies, 0.5), percentile(latencies, 0.99), failed)
