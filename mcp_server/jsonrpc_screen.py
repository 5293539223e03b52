"""What to answer to a message the SDK would not: JSON-RPC errors for the inputs it drops in silence.

The SDK's readers parse each incoming message with pydantic. What pydantic refuses (text that is not
JSON, a batch, a lone surrogate escape, nesting deeper than its limit, a huge integer) becomes an
exception that the session logs at DEBUG: over stdio the client is never answered and waits for its
timeout. And a message whose `id` is not an id (`null`, `[]`, `1.5`, `true`) is taken as a
notification and gets no answer either. JSON-RPC 2.0 wants an error for each: -32700 when the text is
not JSON, -32600 when it is not a valid request, with the request's id when it can be read, else null.

`screen` is that check, shared by the transports whose reading loop we own (stdio, the SSE message POST,
which takes the message `read` parsed).
`misused_id` is its cheap part for Streamable HTTP, where the SDK parses the body itself: a request
whose `id` is not an id (it would be taken as a notification and answered 202).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, cast

from mcp import types
from pydantic import ValidationError

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
BYTE_ORDER_MARK: Final = "\ufeff"
NOT_AN_ID: Final = "Invalid Request: the id must be a string or an integer (leave it out for a notification)."


def _error(request_id: str | int | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message))


def _readable_id(value: object) -> str | int | None:
    """The id to answer with: a string (one UTF-8 can carry: no lone surrogate) or an integer (not a
    boolean); anything else answers with null."""
    if isinstance(value, str):
        return value if _encodable(value) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def screen(text: str | bytes) -> types.JSONRPCError | None:
    """The error to answer instead of handing `text` to the SDK, or None when the SDK can take it."""
    return read(text)[1]


def read(text: str | bytes) -> tuple[types.JSONRPCMessage, None] | tuple[None, types.JSONRPCError]:
    """`text` as the message the SDK would read, or the error to answer instead (parsed once)."""
    try:
        message = types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValidationError:
        return None, _refusal(text)
    if isinstance(message, types.JSONRPCNotification) and _has_id(text):
        return None, _error(None, INVALID_REQUEST, NOT_AN_ID)
    return message, None


def _has_id(text: str | bytes) -> bool:
    """Whether a message the SDK took as a notification carries an `id` after all (one that is not an id)."""
    mentions_id = "id" in text if isinstance(text, str) else b"id" in text
    if not mentions_id:
        return False  # the common case, decided without parsing again
    return "id" in cast(dict[str, Any], json.loads(text))


def _bounded_int(digits: str) -> int:
    """Integers as Python reads them, but without its 4,300-digit refusal (a huge id is still not an id)."""
    return int(digits) if len(digits) <= 64 else 0


def _refusal(text: str | bytes) -> types.JSONRPCError:
    try:
        value: Any = json.loads(text, parse_int=_bounded_int)
    except (ValueError, RecursionError):
        return _error(
            None, PARSE_ERROR, "Parse error: the message is not JSON; send one JSON-RPC object, UTF-8 encoded."
        )
    if isinstance(value, list):
        return _error(None, INVALID_REQUEST, "Invalid Request: batches are not supported; send one message at a time.")
    if not isinstance(value, dict):
        return _error(None, INVALID_REQUEST, "Invalid Request: a JSON-RPC message is a JSON object.")
    request_id = _readable_id(cast(dict[str, Any], value).get("id"))
    return _error(
        request_id,
        INVALID_REQUEST,
        "Invalid Request: the message is not a JSON-RPC 2.0 request, notification or response this server can "
        "read (check the jsonrpc, id and method fields, lone surrogate escapes, nesting depth and number sizes).",
    )


# An `"id":` followed by anything but a string or an integer; found by a scan, confirmed by a parse.
_SUSPECT_ID: Final = re.compile(rb'"id"\s*:\s*(?!["\s]|-?[0-9]+\s*[,}])')


def misused_id(body: bytes) -> types.JSONRPCError | None:
    """The -32600 error for a request (it has a `method`) whose `id` is present but not an id."""
    if not _SUSPECT_ID.search(body):
        return None
    try:
        value: Any = json.loads(body, parse_int=_bounded_int)
    except (ValueError, RecursionError):
        return None  # the SDK answers what is not JSON
    if not isinstance(value, dict):
        return None
    message = cast(dict[str, Any], value)
    if "method" not in message or "id" not in message or _readable_id(message["id"]) is not None:
        return None
    return _error(
        None,
        INVALID_REQUEST,
        "Invalid Request: the id must be a string or an integer (leave it out for a notification).",
    )
