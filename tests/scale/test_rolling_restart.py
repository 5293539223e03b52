"""A rolling restart behind a real nginx: each replica in turn is drained at the balancer, stopped with
SIGTERM (its calls in flight finish within the grace period), started again and put back, while
clients call without pause; no call fails."""

from __future__ import annotations

import re
import time
from collections.abc import Generator
from dataclasses import dataclass, field

import anyio
import httpx2
import pytest

from tests.scale.cluster import Cluster, Replica, running_cluster
from tests.support.bridge_http import TOKENS
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"Bearer {TOKENS['all'][0]}"}
QUESTION = "How long are backups kept on the Pro plan?"
HR_MESSAGES = re.compile(r"^/api/v1/projects/2/conversations/[^/]+/messages$")


@pytest.fixture(scope="module")
def cluster(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[Cluster]:
    with running_cluster(sandbox_session, tmp_path_factory.mktemp("rolling")) as running:
        yield running


CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "ask", "arguments": {"question": QUESTION}},
}
HEADERS = {
    **AUTH,
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}
CLIENTS = 200
PAUSE = 0.25  # between a client's calls: leaves the machine's cores some room for the replicas restarting


def hr_messages(sandbox: SandboxProcess) -> int:
    return sum(n for path, n in sandbox.stats()["paths"].items() if HR_MESSAGES.match(path.split("?")[0]))


async def stop_with_a_call_in_flight(replica: Replica, sandbox: SandboxProcess) -> str:
    """SIGTERM `replica` while it is answering a slow call of its own; the call's response body."""
    sandbox.arm_fault("latency", count=1, path=HR_MESSAGES.pattern, latency=1.0)
    before = hr_messages(sandbox)
    body: list[str] = []
    async with anyio.create_task_group() as tg:

        async def call() -> None:
            async with httpx2.AsyncClient(timeout=30) as http:
                ask = {**CALL, "params": {"name": "ask", "arguments": {"question": "How many days of leave?"}}}
                response = await http.post(f"{replica.url}/agents/hr/mcp", json=ask, headers=HEADERS)
            assert response.status_code == 200, response.text
            body.append(response.text)

        tg.start_soon(call)
        with anyio.fail_after(20):
            while hr_messages(sandbox) == before:  # noqa: ASYNC110 - another process's counter
                await anyio.sleep(0.05)
        assert await anyio.to_thread.run_sync(replica.stop) == 0
    return body[0]


@dataclass
class Tally:
    """What the clients saw: calls answered per client, calls that failed, refused connections retried,
    and the most calls in flight at once."""

    calls: list[int] = field(default_factory=lambda: [0] * CLIENTS)
    failures: list[str] = field(default_factory=list[str])
    retries: int = 0
    in_flight: int = 0
    peak: int = 0
    restarting: str | None = None  # the replica drained or down right now, if any
    during: dict[str, int] = field(default_factory=dict[str, int])  # calls answered while it was


async def test_a_rolling_restart_fails_no_call(cluster: Cluster, sandbox_session: SandboxProcess) -> None:
    """Each replica in turn: drained at the balancer, SIGTERM (a call in flight still gets its answer),
    started again, back in rotation; meanwhile 200 clients call through nginx without pause and every
    call gets its answer."""
    done = anyio.Event()
    tally = Tally()
    restarts: list[float] = []  # seconds each replica was out of rotation (printed, not asserted)
    started = time.monotonic()
    url = f"{cluster.url}/agents/support/mcp"

    async def post(http: httpx2.AsyncClient) -> httpx2.Response:
        try:
            return await http.post(url, json=CALL, headers=HEADERS)
        except httpx2.ConnectError:  # a refused connection: the one retry a client is allowed
            tally.retries += 1
            return await http.post(url, json=CALL, headers=HEADERS)

    async def client(number: int, http: httpx2.AsyncClient) -> None:
        while not done.is_set():
            tally.in_flight += 1
            tally.peak = max(tally.peak, tally.in_flight)
            try:
                response = await post(http)
            finally:
                tally.in_flight -= 1
            text = response.text.replace(" ", "")
            if response.status_code != 200 or '"isError":true' in text or '"result"' not in text:
                tally.failures.append(f"{response.status_code}: {response.text[:1000]}")
            tally.calls[number] += 1
            if tally.restarting is not None:
                tally.during[tally.restarting] = tally.during.get(tally.restarting, 0) + 1
            await anyio.sleep(PAUSE)

    # A connection per call, as many clients do, so a reloaded nginx's old workers hold no idle ones.
    limits = httpx2.Limits(max_connections=CLIENTS, max_keepalive_connections=0)
    async with httpx2.AsyncClient(timeout=60, limits=limits) as http, anyio.create_task_group() as tg:
        for number in range(CLIENTS):
            tg.start_soon(client, number, http)
        with anyio.fail_after(60):  # every client has had an answer before the first replica goes
            while min(tally.calls) == 0:  # noqa: ASYNC110 - the clients' own counters
                await anyio.sleep(0.1)
        for replica in cluster.replicas:
            began = time.monotonic()
            tally.restarting = replica.node
            await anyio.to_thread.run_sync(lambda r=replica: cluster.route(down=r))
            in_flight = await stop_with_a_call_in_flight(replica, sandbox_session)
            assert "25 days" in in_flight and '"isError":true' not in in_flight.replace(" ", ""), in_flight[:300]
            await anyio.to_thread.run_sync(replica.start)
            await anyio.to_thread.run_sync(cluster.route)
            tally.restarting = None
            restarts.append(time.monotonic() - began)
            await anyio.sleep(0.5)
        done.set()
    total = sum(tally.calls)
    print(
        f"\nrolling restart of 3 replicas under {CLIENTS} clients: {total} calls, {len(tally.failures)} failed, "
        f"{tally.retries} retried after a refused connection, at most {tally.peak} in flight, "
        f"{min(tally.calls)}-{max(tally.calls)} calls per client, answered while each replica restarted: "
        + ", ".join(f"{node} {n}" for node, n in tally.during.items())
        + f"; out of rotation {', '.join(f'{s:.1f}' for s in restarts)} s, {time.monotonic() - started:.0f} s in all"
    )
    for failure in tally.failures[:5]:  # whole, in the captured output (an assertion message is cut short)
        print(f"failed call: {failure}\nnginx error log: {cluster.error_log()[-3000:]}")
    assert not tally.failures, (tally.failures[:3], cluster.error_log()[-3000:])
    assert set(tally.during) == {r.node for r in cluster.replicas}  # calls ran through every restart
