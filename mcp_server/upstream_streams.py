"""Reading a streamed upstream answer as it arrives: raw text pieces, or server-sent events and each
event's JSON object. A read that fails becomes the same `UpstreamError` as any failed exchange
(`upstream_answers`); the response itself is opened and released by `UpstreamClient`."""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncGenerator
from contextlib import suppress
from typing import Any

from mcp_server.errors import UpstreamProtocolError
from mcp_server.event_stream import EventStreamDecoder, ServerSentEvent
from mcp_server.lazy_imports import aiohttp
from mcp_server.upstream_answers import transport_error


async def text_pieces(response: aiohttp.ClientResponse, read_timeout: float) -> AsyncGenerator[str]:
    """The body as text, piece by piece as it arrives; `read_timeout` is the timeout an error names."""
    decoder = codecs.getincrementaldecoder(_charset(response))(errors="replace")
    try:
        async for chunk in response.content.iter_any():
            if piece := decoder.decode(chunk):
                yield piece
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise transport_error(exc, read_timeout) from None
    if rest := decoder.decode(b"", final=True):
        yield rest


async def server_sent_events(response: aiohttp.ClientResponse, read_timeout: float) -> AsyncGenerator[ServerSentEvent]:
    """The body's events, each as soon as it is complete; refused unless the answer is an event stream."""
    media_type = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if media_type != "text/event-stream":
        raise UpstreamProtocolError(
            "the upstream answered a streaming request without an event stream. Retry; "
            "if it persists the upstream is misbehaving."
        )
    decoder = EventStreamDecoder()
    try:
        async for chunk in response.content.iter_any():
            for event in decoder.feed(chunk):
                yield event
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise transport_error(exc, read_timeout) from None


def _charset(response: aiohttp.ClientResponse) -> str:
    """The text encoding the answer names, if Python knows it; else UTF-8."""
    named = response.charset
    if named:
        with suppress(LookupError):
            return codecs.lookup(named).name
    return "utf-8"


def event_json(event: ServerSentEvent) -> dict[str, Any]:
    """Decode one event's JSON object, or raise the protocol error a model should read."""
    try:
        value: Any = json.loads(event.data)
    except ValueError:
        raise UpstreamProtocolError(
            "the upstream's answer stream carried an event that is not JSON. Retry the question."
        ) from None
    if not isinstance(value, dict):
        raise UpstreamProtocolError("the upstream's answer stream carried an unexpected event. Retry the question.")
    return value  # pyright: ignore[reportUnknownVariableType]
