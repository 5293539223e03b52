"""HTTP+SSE session binding without a network: the ASGI callables driven with hand-built scopes.

A session id is never a credential: a message POST must present the credential of the principal that
opened the stream (401 without one, 403 with another's), a session is only known on the messages path
of its own stream and only while that stream is open (404 otherwise), and a `?token=` stream announces
a messages URL that carries the same token.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio
import pytest
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Message, Scope

from mcp_server.auth import OPEN_ACCESS, Identity, Refusal, TokenBook, hash_token
from mcp_server.config import TokenConfig
from mcp_server.mcp_face import AgentView
from mcp_server.session_limits import StreamCounter
from mcp_server.sse_transport import SseSessions, messages_path
from tests.support.asgi import LOCAL_HOST, http_scope

pytestmark = pytest.mark.anyio

ALICE = "alice-secret-token"
BOB = "bob-secret-token"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "unit", "version": "0"}},
}


@pytest.mark.parametrize(
    ("stream", "messages"),
    [
        ("/sse", "/messages/"),
        ("/agents/support/sse", "/agents/support/messages/"),
        ("/projects/12/sse", "/projects/12/messages/"),
    ],
)
def test_messages_path_sits_next_to_its_stream(stream: str, messages: str) -> None:
    assert messages_path(stream) == messages


def _scope(method: str, path: str, query: str = "", headers: dict[str, str] | None = None) -> Scope:
    return http_scope(method, path, query=query, headers={"host": LOCAL_HOST, **(headers or {})})


@dataclass
class Captured:
    """What an ASGI app sent: the status and the body."""

    messages: list[Message] = field(default_factory=list)
    _arrived: anyio.Event = field(default_factory=anyio.Event)

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)
        self._arrived.set()
        self._arrived = anyio.Event()

    async def wait_for(self, fragment: bytes) -> None:
        with anyio.fail_after(5):
            while fragment not in self.body:
                await self._arrived.wait()

    @property
    def status(self) -> int | None:
        start = next((m for m in self.messages if m["type"] == "http.response.start"), None)
        return None if start is None else start["status"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


@dataclass
class OpenStream:
    """One SSE stream being served: the messages URL it announced and everything it has sent."""

    sent: Captured
    endpoint: str

    @property
    def session_id(self) -> str:
        return parse_qs(urlsplit(self.endpoint).query)["session_id"][0]


def _sessions(tokens: TokenBook) -> SseSessions:
    server: Server[Any] = Server("unit")
    return SseSessions(
        server,
        TransportSecuritySettings(enable_dns_rebinding_protection=False),
        1_048_576,
        tokens,
        StreamCounter(10),
    )


def _book() -> TokenBook:
    return TokenBook(
        (
            TokenConfig(name="alice", sha256=hash_token(ALICE)),
            TokenConfig(name="bob", sha256=hash_token(BOB)),
        )
    )


def _identity(book: TokenBook, token: str) -> Identity:
    identity = book.identify(token)
    assert identity is not None
    return identity


@asynccontextmanager
async def open_stream(
    sessions: SseSessions, identity: Identity, path: str, query: str = "", headers: dict[str, str] | None = None
) -> AsyncGenerator[OpenStream]:
    """Serve a GET on `path` in the background until the block ends (then the client hangs up)."""
    hang_up = anyio.Event()
    announced = anyio.Event()
    sent = Captured()

    async def receive() -> Message:
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        await sent(message)
        if b"event: endpoint" in sent.body:
            announced.set()

    view = AgentView((), identity.scope, identity.principal)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sessions.stream, _scope("GET", path, query, headers), receive, send, identity, view)
        with anyio.fail_after(5):
            await announced.wait()
        found = re.search(rb"event: endpoint\r?\ndata: ([^\r\n]+)", sent.body)
        assert found is not None, sent.body
        try:
            yield OpenStream(sent, found.group(1).decode())
        finally:
            hang_up.set()
            tg.cancel_scope.deadline = anyio.current_time() + 5


async def post(
    sessions: SseSessions, path: str, query: str, headers: dict[str, str] | None = None, body: object = INITIALIZE
) -> Captured:
    payload = json.dumps(body).encode()
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            await anyio.sleep_forever()
        delivered = True
        return {"type": "http.request", "body": payload, "more_body": False}

    sent = Captured()
    with anyio.fail_after(5):
        await sessions.message(
            _scope("POST", path, query, {"content-type": "application/json", **(headers or {})}), receive, sent
        )
    return sent


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# -- the owner gets through --------------------------------------------------------------------------


async def test_the_owner_posts_to_its_session_and_the_answer_comes_down_the_stream() -> None:
    book = _book()
    sessions = _sessions(book)
    async with open_stream(sessions, _identity(book, ALICE), "/agents/support/sse", headers=_bearer(ALICE)) as stream:
        assert urlsplit(stream.endpoint).path == "/agents/support/messages/"
        assert "token" not in parse_qs(urlsplit(stream.endpoint).query)  # a header credential is not echoed
        answered = await post(sessions, "/agents/support/messages/", f"session_id={stream.session_id}", _bearer(ALICE))
        assert answered.status == 202
        await stream.sent.wait_for(b'"protocolVersion"')
        assert b'"id":1' in stream.sent.body


@pytest.mark.parametrize("how", ["bearer", "x-api-key", "query"])
async def test_every_way_of_presenting_the_owners_token_is_accepted(how: str) -> None:
    book = _book()
    sessions = _sessions(book)
    async with open_stream(sessions, _identity(book, ALICE), "/sse", headers=_bearer(ALICE)) as stream:
        query = f"session_id={stream.session_id}"
        headers: dict[str, str] = {}
        if how == "bearer":
            headers = _bearer(ALICE)
        elif how == "x-api-key":
            headers = {"x-api-key": ALICE}
        else:
            query += f"&token={ALICE}"
        answered = await post(sessions, "/messages/", query, headers)
        assert answered.status == 202


async def test_a_query_token_stream_announces_a_messages_url_with_the_same_token() -> None:
    token = "alice+/=&?"  # characters that must be percent-encoded in a query
    book = TokenBook((TokenConfig(name="alice", sha256=hash_token(token)),))
    sessions = _sessions(book)
    query = f"token={quote(token, safe='')}"
    async with open_stream(sessions, _identity(book, token), "/agents/support/sse", query) as stream:
        announced = parse_qs(urlsplit(stream.endpoint).query)
        assert announced["token"] == [token]
        assert announced["session_id"] == [stream.session_id]
        # The client POSTs to exactly what it was told, with no headers: accepted.
        path, _, query = stream.endpoint.partition("?")
        answered = await post(sessions, path, query)
        assert answered.status == 202


async def test_an_open_bridge_needs_no_credential_on_posts() -> None:
    sessions = _sessions(TokenBook(()))
    async with open_stream(sessions, OPEN_ACCESS, "/sse") as stream:
        answered = await post(sessions, "/messages/", f"session_id={stream.session_id}")
        assert answered.status == 202


# -- everyone else is refused ------------------------------------------------------------------------


async def test_a_post_without_a_credential_is_refused_with_401() -> None:
    book = _book()
    sessions = _sessions(book)
    async with open_stream(sessions, _identity(book, ALICE), "/sse", headers=_bearer(ALICE)) as stream:
        with pytest.raises(Refusal) as refused:
            await post(sessions, "/messages/", f"session_id={stream.session_id}")
        assert refused.value.status == 401
        assert "every message" in str(refused.value)
        assert b'"protocolVersion"' not in stream.sent.body  # nothing reached the session


@pytest.mark.parametrize(
    ("intruder", "status", "says"), [(BOB, 403, "another token"), ("a-key-nobody-configured", 401, "not valid")]
)
async def test_another_principals_credential_is_403_and_a_junk_one_401(intruder: str, status: int, says: str) -> None:
    book = _book()
    sessions = _sessions(book)
    async with open_stream(sessions, _identity(book, ALICE), "/sse", headers=_bearer(ALICE)) as stream:
        for headers, query in (
            (_bearer(intruder), ""),
            ({"x-api-key": intruder}, ""),
            ({}, f"&token={intruder}"),
        ):
            with pytest.raises(Refusal) as refused:
                await post(sessions, "/messages/", f"session_id={stream.session_id}{query}", headers)
            assert refused.value.status == status
            assert says in str(refused.value)
        assert b'"protocolVersion"' not in stream.sent.body


async def test_an_unknown_session_is_404_whoever_asks() -> None:
    book = _book()
    sessions = _sessions(book)
    async with open_stream(sessions, _identity(book, ALICE), "/sse", headers=_bearer(ALICE)) as stream:
        for query in ("session_id=" + "0" * 32, "session_id=not-hex", "", f"session_id={stream.session_id.upper()}"):
            for headers in (_bearer(ALICE), _bearer(BOB), {}):
                answered = await post(sessions, "/messages/", query, headers)
                assert answered.status == 404, (query, headers)
                assert json.loads(answered.body)["error"] == "not_found"


async def test_a_session_is_known_only_on_the_messages_path_of_its_stream() -> None:
    book = _book()
    sessions = _sessions(book)
    alice = _identity(book, ALICE)
    async with (
        open_stream(sessions, alice, "/agents/support/sse", headers=_bearer(ALICE)) as support,
        open_stream(sessions, alice, "/agents/billing/sse", headers=_bearer(ALICE)),
    ):
        for path in ("/agents/billing/messages/", "/messages/", "/projects/1/messages/"):
            answered = await post(sessions, path, f"session_id={support.session_id}", _bearer(ALICE))
            assert answered.status == 404, path
        assert b'"protocolVersion"' not in support.sent.body


async def test_a_session_is_gone_once_its_stream_ends() -> None:
    book = _book()
    sessions = _sessions(book)
    async with open_stream(sessions, _identity(book, ALICE), "/sse", headers=_bearer(ALICE)) as stream:
        session_id = stream.session_id
    answered = await post(sessions, "/messages/", f"session_id={session_id}", _bearer(ALICE))
    assert answered.status == 404
    assert sessions._bindings == {}
    assert sessions._live == set()  # nothing kept for a stream that has ended
