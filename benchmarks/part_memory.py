"""Part `memory`: resident memory per idle session, stateful Streamable HTTP and HTTP+SSE.

Each session is opened as a client would (`initialize`, then `notifications/initialized`) and left
idle: a Streamable HTTP session holds no connection, an HTTP+SSE session holds its GET stream open.
The figure is (server RSS with N idle sessions - RSS after a warm-up of a few sessions) / N, read from
/proc while the sessions are open. The warm-up sessions take the one-off costs (imports, first
allocations) out of the delta.
"""

from __future__ import annotations

import resource
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
import stack
from anyio.abc import TaskGroup
from options import Options
from procs import Running, rss_kib
from table import render

PROTOCOL = "2025-11-25"
WARM_UP = 20
OPENING_AT_ONCE = 32
TARGET_KIB = 40
# The SDK's StreamableHTTPSessionManager refuses a session past 10,000 open ones (DEFAULT_MAX_SESSIONS;
# 503 "Too many open sessions") and the bridge keeps that default, so at most this many are measured.
SDK_SESSION_CAP = 10_000
_INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}
_INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def raise_open_file_limit(wanted: int) -> None:
    """Each SSE session is a socket on both ends: lift the soft limit on open files as far as allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


async def _streamable_session(client: httpx2.AsyncClient, url: str) -> None:
    response = await client.post(url, json=_INITIALIZE, headers={**_HEADERS, "MCP-Protocol-Version": PROTOCOL})
    session = response.headers.get("mcp-session-id")
    if response.status_code != 200 or not session:
        raise RuntimeError(f"{url}: initialize gave HTTP {response.status_code}, no session: {response.text[:300]}")
    headers = {**_HEADERS, "MCP-Protocol-Version": PROTOCOL, "Mcp-Session-Id": session}
    await client.post(url, json=_INITIALIZED, headers=headers)


async def _open_streamable(client: httpx2.AsyncClient, url: str, count: int, tg: TaskGroup, done: anyio.Event) -> None:
    """Open `count` sessions, OPENING_AT_ONCE at a time. They hold no connection, so nothing is left
    running (`tg` and `done` are for `_open_sse`, which shares this signature)."""
    gate = anyio.Semaphore(OPENING_AT_ONCE)

    async def one() -> None:
        async with gate:
            await _streamable_session(client, url)

    async with anyio.create_task_group() as opening:
        for _ in range(count):
            opening.start_soon(one)


async def _sse_session(client: httpx2.AsyncClient, url: str, opened: Callable[[], None], done: anyio.Event) -> None:
    async with client.stream("GET", url, headers={"Accept": "text/event-stream"}) as stream:
        lines = stream.aiter_lines()
        endpoint = ""
        async for line in lines:
            if line.startswith("data:"):
                endpoint = line[5:].strip()
                break
        messages = httpx2.URL(url).join(endpoint)
        await client.post(messages, json=_INITIALIZE, headers=_HEADERS)
        async for line in lines:  # the initialize result arrives on the stream
            if line.startswith("data:") and '"id":1' in line.replace(" ", ""):
                break
        await client.post(messages, json=_INITIALIZED, headers=_HEADERS)
        opened()
        await done.wait()


async def _open_sse(client: httpx2.AsyncClient, url: str, count: int, tg: TaskGroup, done: anyio.Event) -> None:
    """Open `count` SSE sessions in `tg`, OPENING_AT_ONCE at a time; return once all are open (they stay
    open, idle, until `done` is set)."""
    gate = anyio.Semaphore(OPENING_AT_ONCE)
    all_open = anyio.Event()
    remaining = count

    def opened() -> None:
        nonlocal remaining
        gate.release()
        remaining -= 1
        if remaining == 0:
            all_open.set()

    for _ in range(count):
        await gate.acquire()
        tg.start_soon(_sse_session, client, url, opened, done)
    await all_open.wait()


Opener = Callable[[httpx2.AsyncClient, str, int, TaskGroup, anyio.Event], Awaitable[None]]


async def _per_session(process: Running, url: str, count: int, opener: Opener) -> float:
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=OPENING_AT_ONCE)
    per_session = 0.0
    async with httpx2.AsyncClient(timeout=60, limits=limits) as client, anyio.create_task_group() as tg:
        done = anyio.Event()
        await opener(client, url, WARM_UP, tg, done)
        await anyio.sleep(0.5)
        before = rss_kib(process.pid)
        await opener(client, url, count, tg, done)
        await anyio.sleep(1.0)
        per_session = (rss_kib(process.pid) - before) / count
        done.set()
    return per_session


def run(options: Options) -> tuple[str, list[list[str]]]:
    raise_open_file_limit(4 * options.sessions + 1000)
    corpus = stack.write_corpus(options.work / "memory-corpus")
    rows: list[list[str]] = []
    targets: list[list[str]] = []
    with stack.running_sandbox(corpus) as upstream:
        config = stack.write_bridge_config(
            options.work / "memory-bridge.toml", upstream.url, stateless=False, sessions=options.sessions + 2 * WARM_UP
        )
        server = stack.bridge(config)
        for transport, path, opener, count in (
            (
                "Streamable HTTP (stateful)",
                server.mcp_path,
                _open_streamable,
                min(options.sessions, SDK_SESSION_CAP - WARM_UP),
            ),
            ("HTTP+SSE", server.sse_path or "/sse", _open_sse, options.sessions),
        ):
            with stack.serving(server) as process:
                kib = anyio.run(_per_session, process, process.url + path, count, opener)
            print(f"  {server.name} {transport}: {kib:.1f} KiB per idle session ({count} sessions)", flush=True)
            rows.append([server.name, transport, str(count), f"{kib:.1f}"])
            met = "yes" if kib <= TARGET_KIB else "NO"
            targets.append([f"idle {transport} session <= {TARGET_KIB} KB", f"{kib:.1f} KiB", met])
    header = ["server", "transport", "idle sessions", "KiB per session (RSS delta / N)"]
    return render("memory per idle session", header, rows), targets
