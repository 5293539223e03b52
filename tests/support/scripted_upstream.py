"""A real HTTP/1.1 upstream on loopback that answers from a script, for tests of the upstream client.

It runs in the test's own event loop (`async with scripted_upstream(*steps) as upstream:`) and records
every request it reads (`upstream.requests`: method, raw path, query, headers, body, and which
connection carried it). Each request takes the next step of the script; the last step repeats:

* `Reply(status, body, headers)` (or `json_reply(...)`, `sse_reply(...)`): an answer; with `pieces`
  the body goes out chunk by chunk, `pause` seconds apart, and `cut=True` closes the connection
  before the body's end;
* `HANG_UP`: close the connection without answering; `NOT_HTTP`: answer bytes that are not HTTP;
  `SILENCE`: never answer (the client's read timeout ends it).

`scripted_upstream(..., listening=False)` holds a port that refuses connections (bound, not listening)
until `upstream.listen()`: a port nothing listens on, or an upstream that comes up later.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    pieces: Sequence[bytes] = ()  # sent chunked, one by one, after `body` (if any)
    pause: float = 0.0
    cut: bool = False


class Failure(Enum):
    HANG_UP = "close without answering"
    NOT_HTTP = "answer bytes that are not HTTP"
    SILENCE = "never answer"


HANG_UP = Failure.HANG_UP
NOT_HTTP = Failure.NOT_HTTP
SILENCE = Failure.SILENCE
Step = Reply | Failure


def json_reply(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


def sse_reply(body: bytes, content_type: str = "text/event-stream") -> Reply:
    return Reply(200, body, {"Content-Type": content_type})


@dataclass(frozen=True)
class Seen:
    """One request as it arrived."""

    method: str
    path: str  # raw, as on the request line
    query: dict[str, str]
    headers: list[tuple[str, str]]  # in order, names lowercased
    body: bytes
    connection: int  # 1 for the first connection the upstream accepted, and so on

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedUpstream:
    def __init__(self, script: Sequence[Step]) -> None:
        self.script = list(script)
        self.requests: list[Seen] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server: asyncio.Server | None = None
        self._serving: asyncio.Task[asyncio.Server] | None = None
        self._connections = 0
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def count(self) -> int:
        return len(self.requests)

    def listen(self) -> None:
        """Start accepting now (synchronously: a connection attempted right after this succeeds)."""
        self._sock.listen(64)
        self._serving = asyncio.get_running_loop().create_task(asyncio.start_server(self._handle, sock=self._sock))

    async def aclose(self) -> None:
        if self._serving is None:
            self._sock.close()
            return
        server = await self._serving
        server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    def _next(self) -> Step:
        return self.script[min(len(self.requests), len(self.script)) - 1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._connections += 1
        connection = self._connections
        try:
            while (seen := await _read_request(reader, connection)) is not None:
                self.requests.append(seen)
                step = self._next()
                if step is HANG_UP:
                    return
                if step is NOT_HTTP:
                    writer.write(b"this is not HTTP at all\r\n\r\n")
                    await writer.drain()
                    return
                if step is SILENCE:
                    await reader.read()  # until the client gives up and closes
                    return
                assert isinstance(step, Reply)
                if not await _answer(writer, step):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            writer.close()
            with suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            self._handlers.discard(task)


async def _read_request(reader: asyncio.StreamReader, connection: int) -> Seen | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
    method, target, _ = line.split(" ", 2)
    headers = [(n.strip().lower(), v.strip()) for n, _, v in (h.partition(":") for h in header_lines)]
    fields = dict(headers)
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
    else:
        body = await reader.readexactly(int(fields.get("content-length", "0")))
    parts = urlsplit(target)
    return Seen(method, parts.path, dict(parse_qsl(parts.query)), headers, body, connection)


async def _answer(writer: asyncio.StreamWriter, reply: Reply) -> bool:
    """Send `reply`; False when the connection must close afterwards."""
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Status"
    streamed = bool(reply.pieces) or reply.cut
    framing = "Transfer-Encoding: chunked" if streamed else f"Content-Length: {len(reply.body)}"
    head = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
    writer.write(f"HTTP/1.1 {reply.status} {reason}\r\n{head}{framing}\r\n\r\n".encode("latin-1"))
    if not streamed:
        writer.write(reply.body)
        await writer.drain()
        return True
    for piece in ([reply.body] if reply.body else []) + list(reply.pieces):
        writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        await writer.drain()
        if reply.pause:
            await asyncio.sleep(reply.pause)
    if reply.cut:
        return False
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


@asynccontextmanager
async def scripted_upstream(*script: Step, listening: bool = True) -> AsyncGenerator[ScriptedUpstream]:
    upstream = ScriptedUpstream(script or [Reply()])
    if listening:
        upstream.listen()
    try:
        yield upstream
    finally:
        await upstream.aclose()
