"""Slow clients against a real `agent-bridge serve`: the request-head deadline
(`server.header_timeout_seconds`) closes slowloris connections however they trickle, without cutting
keep-alive requests, uploads or SSE streams; `server.max_connections` answers 503 beyond the cap.

The slow clients are raw sockets: an HTTP client library would send its request head in one go."""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from anyio.abc import SocketStream

from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

HEADER_TIMEOUT = 1.0
TRICKLE_EVERY = 0.3  # seconds between trickled header bytes
CLOSE_WITHIN = 8.0  # generous bound for "closed by the header timeout"; the deadline itself is 1 s
HALF_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
TRICKLE = b"X-Slow: " + b"a" * 64  # the header bytes a slow client sends one at a time
HEALTHZ = HALF_HEAD + b"\r\n"
BEARER = f"Authorization: Bearer {TOKENS['all'][0]}\r\n".encode()
INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
).encode()


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    path = tmp_path_factory.mktemp("slow") / "bridge.toml"
    config = write_http_config(path, sandbox_session.url, extra_server=[f"header_timeout_seconds = {HEADER_TIMEOUT}"])
    with running_bridge(config) as process:
        yield process


async def _connect(url: str) -> SocketStream:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return await anyio.connect_tcp(parts.hostname, parts.port)


async def _read_head(stream: SocketStream, buffered: bytes = b"") -> tuple[int, bytes, bytes]:
    """Read a response head: its status, the head, and whatever body bytes came with it."""
    with anyio.fail_after(10):
        while b"\r\n\r\n" not in buffered:
            buffered += await stream.receive()
    head, _, rest = buffered.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, rest


async def _read_response(stream: SocketStream) -> tuple[int, bytes]:
    """A whole response with a Content-Length body: its status and body."""
    status, head, body = await _read_head(stream)
    lengths = [line.split(b":", 1)[1] for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
    assert lengths, head
    with anyio.fail_after(10):
        while len(body) < int(lengths[0]):
            body += await stream.receive()
    return status, body


async def _until_closed(stream: SocketStream, trickle: bytes = b"", limit: float = CLOSE_WITHIN) -> bytes:
    """Everything the server sends until it closes the connection, sending one byte of `trickle`
    every TRICKLE_EVERY seconds meanwhile. Fails if it is still open after `limit` seconds."""
    received = b""
    with anyio.fail_after(limit):
        for i in range(int(limit / TRICKLE_EVERY) + 1):
            with anyio.move_on_after(TRICKLE_EVERY):
                try:
                    while True:  # bounded by the move_on_after scope and the end of the stream
                        received += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                    return received  # closed (a reset counts: the server let go)
            if byte := trickle[i : i + 1]:
                try:
                    await stream.send(byte)
                except (anyio.BrokenResourceError, OSError):
                    return received
        raise AssertionError(f"connection still open after {limit} s")


def _closed_by_deadline(answer: bytes) -> bool:
    """Nothing, or a 408 (which says `Connection: close`)."""
    return answer == b"" or (answer.startswith(b"HTTP/1.1 408 ") and b"connection: close" in answer.lower())


async def test_fifty_trickling_heads_are_closed_while_normal_requests_work(bridge: BridgeProcess) -> None:
    clients = 50
    heads_sent: list[float] = []
    closed_after: list[float] = []
    answers: list[bytes] = []
    all_sent = anyio.Event()
    healthz_status, closed_meanwhile = 0, clients

    async def slowloris() -> None:
        async with await _connect(bridge.url) as stream:
            started = time.monotonic()
            await stream.send(HALF_HEAD)
            heads_sent.append(started)
            if len(heads_sent) == clients:
                all_sent.set()
            answers.append(await _until_closed(stream, TRICKLE))
            closed_after.append(time.monotonic() - started)

    async with httpx2.AsyncClient(timeout=10) as http, anyio.create_task_group() as group:
        for _ in range(clients):
            group.start_soon(slowloris)
        with anyio.fail_after(10):
            await all_sent.wait()
        healthz_status = (await http.get(f"{bridge.url}/healthz")).status_code  # while the 50 are held
        closed_meanwhile = len(answers)
    assert healthz_status == 200
    assert closed_meanwhile < clients, "the normal request was answered only after every slow client was gone"
    assert len(answers) == clients
    assert all(_closed_by_deadline(answer) for answer in answers), {answer[:40] for answer in answers}
    assert sum(answer.startswith(b"HTTP/1.1 408 ") for answer in answers) >= clients // 2, "most should get a 408"
    # Trickling did not keep them open: each was closed within a few seconds, and not before its deadline.
    assert min(closed_after) >= HEADER_TIMEOUT * 0.5, closed_after
    assert max(closed_after) < CLOSE_WITHIN, closed_after


async def test_keep_alive_prompt_request_works_idle_or_trickling_connection_is_closed(bridge: BridgeProcess) -> None:
    for trickle in (b"", HALF_HEAD + TRICKLE):  # idle after a response, then a slow next head
        async with await _connect(bridge.url) as stream:
            for _ in range(2):  # the second request follows the first response promptly, on the same connection
                await stream.send(HEALTHZ)
                status, body = await _read_response(stream)
                assert (status, json.loads(body)["status"]) == (200, "ok")
            response_done = time.monotonic()
            answer = await _until_closed(stream, trickle)
            idle = time.monotonic() - response_done
        assert _closed_by_deadline(answer), answer
        assert HEADER_TIMEOUT * 0.5 <= idle < CLOSE_WITHIN


async def test_a_slow_body_after_the_head_is_not_cut(bridge: BridgeProcess) -> None:
    """Only the head is timed: a body that takes twice the header timeout to arrive is still served."""
    head = (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n" + BEARER + b"Content-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\n" + f"Content-Length: {len(INITIALIZE)}\r\n\r\n".encode()
    )
    pieces = 8
    size = -(-len(INITIALIZE) // pieces)
    async with await _connect(bridge.url) as stream:
        await stream.send(head)
        started = time.monotonic()
        for i in range(pieces):
            await anyio.sleep(2 * HEADER_TIMEOUT / pieces)  # the body trickles in over 2 s
            await stream.send(INITIALIZE[i * size : (i + 1) * size])
        assert time.monotonic() - started >= 2 * HEADER_TIMEOUT
        status, response_head, rest = await _read_head(stream)
    assert status == 200, response_head + rest


async def test_max_connections_answers_503_beyond_the_cap_and_streams_outlive_the_header_timeout(
    sandbox_session: SandboxProcess, tmp_path: Path
) -> None:
    cap = 5
    config = write_http_config(
        tmp_path / "bridge.toml",
        sandbox_session.url,
        extra_server=[f"header_timeout_seconds = {HEADER_TIMEOUT}", f"max_connections = {cap}"],
    )
    sse_get = b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n" + BEARER + b"Accept: text/event-stream\r\n\r\n"
    with running_bridge(config) as bridge:
        streams: list[SocketStream] = []
        endpoints: list[str] = []
        try:
            opened = time.monotonic()
            for _ in range(cap):  # `cap` long-lived SSE streams: each is served
                stream = await _connect(bridge.url)
                streams.append(stream)
                await stream.send(sse_get)
                status, head, rest = await _read_head(stream)
                assert status == 200, head
                with anyio.fail_after(10):  # the endpoint event: "data: /messages/?session_id=..."
                    while b"\r\n" not in rest.partition(b"data: ")[2]:
                        rest += await stream.receive()
                endpoints.append(rest.partition(b"data: ")[2].split(b"\r\n", 1)[0].decode())

            async with await _connect(bridge.url) as extra:  # connection number cap + 1
                await extra.send(HEALTHZ)
                status, body = await _read_response(extra)
            assert (status, body) == (503, b"Service Unavailable")

            await streams.pop().aclose()  # back under the cap: requests are served again
            statuses: list[int] = []
            for _ in range(50):  # the server notices the closed stream within moments
                async with await _connect(bridge.url) as again:
                    await again.send(HEALTHZ)
                    statuses.append((await _read_response(again))[0])
                if statuses[-1] == 200:
                    break
                await anyio.sleep(0.1)
            assert statuses[-1] == 200, statuses

            # The streams are older than twice the header timeout and still carry answers.
            await anyio.sleep(max(0.0, opened + 2 * HEADER_TIMEOUT - time.monotonic()))
            headers = {"Authorization": f"Bearer {TOKENS['all'][0]}", "Content-Type": "application/json"}
            async with httpx2.AsyncClient(timeout=10, headers=headers) as http:
                posted = await http.post(f"{bridge.url}{endpoints[0]}", content=INITIALIZE)
            assert posted.status_code == 202, posted.text
            answer = b""
            with anyio.fail_after(10):
                while b'"id":1' not in answer.replace(b" ", b""):
                    answer += await streams[0].receive()
            assert b"event: message" in answer
        finally:
            for stream in streams:
                await stream.aclose()


async def test_an_idle_keep_alive_connection_outlives_the_5_seconds_clients_reuse_one_for(
    sandbox_session: SandboxProcess, tmp_path: Path
) -> None:
    """httpx (the MCP Python SDK's client) reuses an idle connection for up to 5 s, uvicorn's own
    keep-alive timeout: the bridge now keeps one for the head deadline (10 s by default), so a request
    sent on a 5-second-idle connection is served rather than racing the bridge closing it (the soak's
    lost SSE message POSTs)."""
    config = write_http_config(tmp_path / "bridge.toml", sandbox_session.url)  # default header timeout: 10 s
    with running_bridge(config) as bridge:
        async with await _connect(bridge.url) as stream:
            await stream.send(HEALTHZ)
            assert (await _read_response(stream))[0] == 200
            await anyio.sleep(6)  # past uvicorn's default keep-alive of 5 s
            await stream.send(HEALTHZ)
            status, body = await _read_response(stream)
    assert (status, json.loads(body)["status"]) == (200, "ok")
