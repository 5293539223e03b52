"""Load and soak: many concurrent MCP clients against the sandbox, with upstream faults switched on
and off, reporting calls, errors by kind, latency percentiles and the bridge's resident memory.

    .venv/bin/python benchmarks/soak.py [--clients 200] [--minutes 5] [--warmup 60] [--stdio 4] [--fault-every 20]

Starts the sandbox and `agent-bridge serve` (rate limit off: this measures the bridge, not the
limiter) as real processes. The clients are split between stateless Streamable HTTP and HTTP+SSE
(each one session, kept for the whole run), plus `--stdio` clients that each run `agent-bridge stdio`.
Every client loops `list_sources` / `ask` until the time is up. Every `--fault-every` seconds the
faults flip: on, the sandbox fails the next 25 message requests with 500s (tool errors; the circuit
breaker may open and fail some calls fast), off, it is healthy. The first `--warmup` seconds run the
same load (faults included) but are not counted: the bridge's memory baseline is taken after them,
so the growth reported is that of the measured minutes, not of the caches and pools filling up.
Not run in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from mcp_server import launch

CALL_TIMEOUT = 90.0  # seconds a client waits for one answer before it gives up on its session
KINDS = (  # a tool error's text -> the kind it is counted as
    ("the upstream failed (HTTP 5", "upstream_5xx"),
    ("so the bridge is not sending it requests", "circuit_open"),
    ("none finished within", "backend_busy"),
    ("over its rate limit", "rate_limited"),
    ("did not answer within", "upstream_timeout"),
)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _kind(result: types.CallToolResult) -> str:
    if not result.is_error:
        return "ok"
    text = " ".join(c.text for c in result.content if isinstance(c, types.TextContent))
    return next((kind for marker, kind in KINDS if marker in text), "tool_error_other")


class Tally:
    """Outcomes and latencies of the calls that started after the warm-up (`counting_from`)."""

    def __init__(self, counting_from: float) -> None:
        self.counting_from = counting_from
        self.outcomes: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.warmup_calls = 0

    def record(self, kind: str, seconds: float, started: float) -> None:
        if started < self.counting_from:
            self.warmup_calls += 1
            return
        self.outcomes[kind] += 1
        self.latencies.append(seconds)


async def _loop(client: Client, until: float, tally: Tally, n: int) -> None:
    i = n
    while time.monotonic() < until:
        i += 1
        name, args = ("ask", {"question": "How long are backups kept?"}) if i % 2 else ("list_sources", {})
        start = time.monotonic()
        try:
            with anyio.fail_after(CALL_TIMEOUT):
                result = await client.call_tool(name, args)
            kind = _kind(result)
        except TimeoutError:  # no answer at all: the client gives up on this session
            tally.record("client_timeout", time.monotonic() - start, start)
            return
        except Exception as exc:  # a failed call counts; the client goes on
            kind = f"exception:{type(exc).__name__}"
        tally.record(kind, time.monotonic() - start, start)


async def _client(transport: str, url: str, sandbox_url: str, until: float, tally: Tally, n: int) -> None:
    auth = {"Authorization": "Bearer soak-token-3c9e1f"}
    try:
        if transport == "http":
            async with (
                httpx2.AsyncClient(headers=auth, timeout=120) as http,
                Client(streamable_http_client(f"{url}/agents/support/mcp", http_client=http)) as client,
            ):
                await _loop(client, until, tally, n)
        elif transport == "sse":
            async with Client(sse_client(f"{url}/agents/support/sse", headers=auth, timeout=120)) as client:
                await _loop(client, until, tally, n)
        else:
            env = {"CUSTOMGPT_BASE_URL": sandbox_url, "CUSTOMGPT_API_KEY": "sandbox-key", "CUSTOMGPT_PROJECT_IDS": "1"}
            params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server", "stdio"], env=env)
            async with Client(stdio_client(params)) as client:
                await _loop(client, until, tally, n)
    except Exception as exc:
        tally.record(f"connect:{transport}:{type(exc).__name__}", 0.0, time.monotonic())


async def _faults(sandbox_url: str, until: float, every: float, flips: list[str]) -> None:
    headers = {"Authorization": "Bearer sandbox-key"}
    on = False
    async with httpx2.AsyncClient(base_url=sandbox_url, headers=headers) as http:
        while time.monotonic() + every < until:
            await anyio.sleep(every)
            on = not on
            if on:
                body = {"kind": "server-error", "count": 25, "path": "/messages$"}
                (await http.post("/_sandbox/faults", json=body)).raise_for_status()
            else:
                (await http.delete("/_sandbox/faults")).raise_for_status()
            flips.append("on" if on else "off")


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100)[q - 1]


async def _run(args: argparse.Namespace) -> None:
    with launch.running(["sandbox", "--port", "0"], quiet=True) as sandbox, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "soak.toml"
        digest = hashlib.sha256(b"soak-token-3c9e1f").hexdigest()
        config.write_text(
            '[server]\nrate_limit = "off"\nmax_sessions_per_token = 10000\n'
            f'[backends.customgpt]\napi_key = "sandbox-key"\nbase_url = "{sandbox.url}"\n'
            '[[agents]]\nname = "support"\nproject_id = 1\n'
            f'[[tokens]]\nname = "soak"\nsha256 = "{digest}"\n'
        )
        with launch.running(["serve", "--config", str(config), "--port", "0"], quiet=True) as bridge:
            pid = bridge.process.pid
            rss_idle = _rss_mib(pid)
            began = time.monotonic()
            warm_until = began + args.warmup
            until = warm_until + args.minutes * 60
            tally, flips, rss_loaded = Tally(warm_until), list[str](), list[float]()
            http_and_sse = args.clients - args.stdio
            transports = ["stdio"] * args.stdio + ["http", "sse"] * (http_and_sse // 2) + ["http"] * (http_and_sse % 2)

            async def sample_loaded() -> None:  # under load: after the warm-up, and 2 s before the end
                for moment in (warm_until, until - 2):
                    await anyio.sleep(max(0.0, moment - time.monotonic()))
                    rss_loaded.append(_rss_mib(pid))

            async with anyio.create_task_group() as tg:
                tg.start_soon(_faults, sandbox.url, until, args.fault_every, flips)
                tg.start_soon(sample_loaded)
                for n, transport in enumerate(transports):
                    tg.start_soon(_client, transport, bridge.url, sandbox.url, until, tally, n)
            elapsed = time.monotonic() - warm_until
            rss_after = _rss_mib(pid)  # the clients gone
    calls = sum(tally.outcomes.values())
    ok = list(tally.latencies)
    print(f"clients: {args.clients} ({Counter(transports)}), fault phases: {len(flips)}")
    print(f"warm-up: {args.warmup:g} s, {tally.warmup_calls} calls (not counted)")
    print(f"measured: {elapsed:.0f} s, calls: {calls} ({calls / elapsed:.1f}/s)")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in tally.outcomes.most_common()))
    print(f"latency p50 {_percentile(ok, 50) * 1000:.0f} ms, p99 {_percentile(ok, 99) * 1000:.0f} ms")
    start, end = rss_loaded
    print(
        f"bridge RSS: idle {rss_idle:.1f} MiB; under load after the warm-up {start:.1f} MiB, at the end "
        f"{end:.1f} MiB ({(end / start - 1) * 100:+.1f} % over the measured minutes); "
        f"{rss_after:.1f} MiB once the clients left"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Load and soak the bridge against the sandbox.")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=5.0, help="measured minutes, after the warm-up")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds of load before measuring (not counted)")
    parser.add_argument("--stdio", type=int, default=4, help="clients that each run their own stdio bridge")
    parser.add_argument("--fault-every", type=float, default=20.0, help="seconds between faults on / off")
    anyio.run(_run, parser.parse_args())


if __name__ == "__main__":
    main()
