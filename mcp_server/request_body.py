"""Reading an HTTP request body ahead of the SDK, and handing it over as if unread."""

from __future__ import annotations

from starlette.types import Message, Receive


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body, up to `limit` bytes; `complete` is False when it is larger (the SDK answers 413)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body), False
        body += message.get("body", b"")
        if len(body) > limit:
            return bytes(body), False
        if not message.get("more_body", False):
            return bytes(body), True


def replaying(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` for the SDK: the body read so far first, then whatever is still to come."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay
