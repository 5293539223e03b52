"""Reading an Actions call's JSON body: a JSON object within ChatGPT's request limit, else a 400 or 413
that says what to send instead."""

from __future__ import annotations

import json
from typing import Any, cast

from starlette.requests import Request

from mcp_server.actions.failures import Failure
from mcp_server.actions.limits import MAX_REQUEST_BYTES


async def json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise too_large()
        chunks.append(chunk)
    try:
        value = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep to read
        raise Failure(400, 'The body is not JSON; send a JSON object such as {"question": "..."}.') from None
    if not isinstance(value, dict):
        raise Failure(400, 'The body must be a JSON object such as {"question": "..."}.')
    return cast(dict[str, Any], value)


def too_large() -> Failure:
    return Failure(413, f"The request body is over {MAX_REQUEST_BYTES:,} bytes; send a shorter question.")
