"""The hand-over of client messages (from message POSTs) to an SSE stream's server session.

It behaves as the SDK transport's unbuffered anyio memory stream did: `put` returns once the session
has taken the message (several POSTs at once are taken in the order they arrived), `get` waits for the
next one and raises `anyio.EndOfStream` once the inbox is closed and empty, and `put` on a closed inbox
raises `anyio.BrokenResourceError`. Each message travels with its sender's context, which the SDK's
dispatcher runs the message's handler in.

Why not the memory stream: a session waits on its inbox for all of its idle life, and a waiting
`receive` on an anyio memory stream holds ~3 KiB (an anyio Event over an asyncio Event and its
waiter deque, the waiting-receiver record; the stream state ~1.3 KiB more). Waiting here holds one
asyncio future. The bridge serves on asyncio only (uvicorn), so asyncio's futures are used directly.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")


class Inbox(Generic[T]):
    __slots__ = ("_closed", "_getter", "_senders")

    def __init__(self) -> None:
        # Messages not yet taken, oldest first, each with the future its sender waits on.
        self._senders: list[tuple[contextvars.Context, T, asyncio.Future[None]]] = []
        self._getter: asyncio.Future[None] | None = None  # the session waiting for a message
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def put(self, item: T) -> None:
        """Hand `item` over (with the caller's context); returns once the session has taken it."""
        if self._closed:
            raise anyio.BrokenResourceError
        taken = asyncio.get_running_loop().create_future()
        entry = (contextvars.copy_context(), item, taken)
        self._senders.append(entry)
        self._wake_getter()
        try:
            await taken
        except asyncio.CancelledError:
            if entry in self._senders:  # not taken: it is not delivered at all
                self._senders.remove(entry)
            raise

    async def get(self) -> tuple[contextvars.Context, T]:
        """The next message and its sender's context; `anyio.EndOfStream` once closed and empty."""
        while not self._senders:
            if self._closed:
                raise anyio.EndOfStream
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        context, item, taken = self._senders.pop(0)
        if not taken.done():
            taken.set_result(None)
        return context, item

    def close(self) -> None:
        """No more messages (the client has gone, or the session reads no more): senders whose message
        was not taken yet are refused (`anyio.BrokenResourceError`), the session's `get` ends."""
        if self._closed:
            return
        self._closed = True
        self._wake_getter()
        for _, _, taken in self._senders:
            if not taken.done():
                taken.set_exception(anyio.BrokenResourceError())
        self._senders.clear()

    def _wake_getter(self) -> None:
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(None)
