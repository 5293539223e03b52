"""The lean SSE transport's parts without a network: frames, the inbox hand-over, pings, and many streams
opened and dropped leaving no task behind (`sse_stream`, `sse_inbox`, `sse_session`)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Message, Scope

from mcp_server import sse_stream
from mcp_server.auth import OPEN_ACCESS, TokenBook
from mcp_server.mcp_face import AgentView
from mcp_server.session_limits import StreamCounter
from mcp_server.sse_inbox import Inbox
from mcp_server.sse_stream import event_frame, ping_frame
from mcp_server.sse_transport import SseSessions
from tests.support.asgi import LOCAL_HOST, http_scope

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "unit", "version": "0"}},
}


def test_frames_are_sse_starlettes() -> None:
    assert (
        event_frame("endpoint", "/messages/?session_id=ab")
        == b"event: endpoint\r\ndata: /messages/?session_id=ab\r\n\r\n"
    )
    assert event_frame("message", "a\nb\r\nc") == b"event: message\r\ndata: a\r\ndata: b\r\ndata: c\r\n\r\n"
    assert re.fullmatch(rb": ping - \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00\r\n\r\n", ping_frame())


async def test_the_inbox_hands_over_in_order_and_refuses_once_closed() -> None:
    inbox = Inbox[str]()
    taken: list[str] = []
    async with anyio.create_task_group() as senders:
        senders.start_soon(inbox.put, "first")
        await anyio.sleep(0.01)
        senders.start_soon(inbox.put, "second")
        await anyio.sleep(0.01)
        for _ in range(2):
            taken.append((await inbox.get())[1])
    assert taken == ["first", "second"]  # and both puts returned: they were taken

    async def refused() -> None:
        with pytest.raises(anyio.BrokenResourceError):
            await inbox.put("never taken")

    async with anyio.create_task_group() as senders:
        senders.start_soon(refused)
        await anyio.sleep(0.01)
        inbox.close()
    with pytest.raises(anyio.EndOfStream):
        await inbox.get()
    with pytest.raises(anyio.BrokenResourceError):
        await inbox.put("late")


async def test_a_cancelled_put_delivers_nothing() -> None:
    inbox = Inbox[str]()
    with anyio.move_on_after(0.05):
        await inbox.put("abandoned")
    inbox.close()
    with pytest.raises(anyio.EndOfStream):
        await inbox.get()


def _scope(method: str, path: str, query: str = "") -> Scope:
    return http_scope(method, path, query=query, headers={"host": LOCAL_HOST, "content-type": "application/json"})


def _sessions() -> SseSessions:
    server: Server[Any] = Server("unit")
    return SseSessions(
        server,
        TransportSecuritySettings(enable_dns_rebinding_protection=False),
        1_048_576,
        TokenBook(()),
        StreamCounter(1000),
    )


class Client:
    """One stream's client end: what the stream sent, and the hang-up."""

    def __init__(self) -> None:
        self.body = b""
        self.hang_up = anyio.Event()
        self.announced = anyio.Event()
        self.answered = anyio.Event()
        self.ended = False  # the response's last (empty) body was sent
        self.pinged_twice = anyio.Event()

    async def receive(self) -> Message:
        await self.hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.body += message.get("body", b"")
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.ended = True
        if b"event: endpoint" in self.body:
            self.announced.set()
        if b'"id":1' in self.body:
            self.answered.set()
        if self.body.count(b": ping - ") >= 2:
            self.pinged_twice.set()

    @property
    def session_query(self) -> str:
        found = re.search(rb"\?(session_id=[0-9a-f]{32})", self.body)
        assert found is not None, self.body
        return found.group(1).decode()


async def _post(sessions: SseSessions, query: str, body: object) -> int:
    payload = json.dumps(body).encode()
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await sessions.message(_scope("POST", "/messages/", query), receive, send)
    return statuses[0]


async def test_many_streams_dropped_by_their_clients_leave_no_task_behind() -> None:
    sessions = _sessions()
    view = AgentView((), OPEN_ACCESS.scope, OPEN_ACCESS.principal)
    await anyio.lowlevel.checkpoint()
    before = len(asyncio.all_tasks())
    clients = [Client() for _ in range(200)]
    async with anyio.create_task_group() as streams:
        for client in clients:
            streams.start_soon(sessions.stream, _scope("GET", "/sse"), client.receive, client.send, OPEN_ACCESS, view)
        with anyio.fail_after(10):
            for n, client in enumerate(clients):
                await client.announced.wait()
                if n % 2:  # half of them initialize first
                    assert await _post(sessions, client.session_query, INITIALIZE) == 202
                    await client.answered.wait()
        assert len(sessions._live) == 200  # pyright: ignore[reportPrivateUsage]
        for client in clients:
            client.hang_up.set()
    with anyio.fail_after(5):
        while len(asyncio.all_tasks()) > before:  # noqa: ASYNC110 - no event says a task has ended
            await anyio.sleep(0.01)
    assert sessions._live == set()  # pyright: ignore[reportPrivateUsage]
    assert sessions._bindings == {}  # pyright: ignore[reportPrivateUsage]
    assert not any(client.ended for client in clients)  # nothing is written to a client that has gone
    assert await _post(sessions, clients[1].session_query, INITIALIZE) == 404


async def test_an_idle_stream_is_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse_stream, "PING_SECONDS", 0.05)
    sessions = _sessions()
    client = Client()
    view = AgentView((), OPEN_ACCESS.scope, OPEN_ACCESS.principal)
    async with anyio.create_task_group() as streams:
        streams.start_soon(sessions.stream, _scope("GET", "/sse"), client.receive, client.send, OPEN_ACCESS, view)
        with anyio.fail_after(5):
            await client.pinged_twice.wait()
        client.hang_up.set()
    assert re.fullmatch(rb"event: endpoint\r\ndata: [^\r\n]+\r\n\r\n(: ping - [^\r\n]+\r\n\r\n)+", client.body)


async def test_streams_the_bridge_ends_leave_no_task_behind() -> None:
    """Shutdown ends idle streams with their clients still connected: each gets the end of its response,
    and neither the session nor the connection's watcher outlives the stream."""
    sessions = _sessions()
    view = AgentView((), OPEN_ACCESS.scope, OPEN_ACCESS.principal)
    await anyio.lowlevel.checkpoint()
    before = len(asyncio.all_tasks())
    clients = [Client() for _ in range(50)]
    async with anyio.create_task_group() as streams:
        for client in clients:
            streams.start_soon(sessions.stream, _scope("GET", "/sse"), client.receive, client.send, OPEN_ACCESS, view)
        with anyio.fail_after(10):
            for client in clients:
                await client.announced.wait()
        sessions.close_idle_streams()
    assert all(client.ended for client in clients)
    with anyio.fail_after(5):
        while len(asyncio.all_tasks()) > before:  # noqa: ASYNC110 - no event says a task has ended
            await anyio.sleep(0.01)
    assert sessions._live == set()  # pyright: ignore[reportPrivateUsage]
