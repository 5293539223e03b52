"""ChatGPT's size limits on an Action: requests and responses under 100,000 characters each.

An answer too long for one response is cut with a marker that says how to fetch the rest; any other
result that would not fit has its longest strings shortened, each with a marker.
"""

from __future__ import annotations

import json
from typing import Any, Final, cast

MAX_CHARS: Final = 100_000
MAX_RESPONSE_CHARS: Final = MAX_CHARS - 1_000  # room for a proxy's or client's own wrapping
MAX_REQUEST_BYTES: Final = MAX_CHARS
CUT_MARKER: Final = " …[cut: too long for one response]"


def encoded_length(value: Any) -> int:
    """Characters of `value` as the facade sends it (JSON, non-ASCII kept)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def cut_text(body: dict[str, Any], key: str, marker: str, limit: int = MAX_RESPONSE_CHARS) -> int | None:
    """Shorten `body[key]` (text) in place so the body fits in `limit`, ending it with `marker`.
    Returns how many characters of the text were kept, or None when it fit as it was."""
    if encoded_length(body) <= limit:
        return None
    text: str = body[key]
    low, high = 0, len(text)  # the longest prefix that fits, by bisection (escaping makes length uneven)
    while low < high:
        middle = (low + high + 1) // 2
        body[key] = text[:middle] + marker
        if encoded_length(body) <= limit:
            low = middle
        else:
            high = middle - 1
    body[key] = text[:low] + marker
    return low


def _longest_string(value: Any, path: tuple[Any, ...] = ()) -> tuple[int, tuple[Any, ...]]:
    if isinstance(value, str):
        return len(value), path
    best: tuple[int, tuple[Any, ...]] = (-1, ())
    if isinstance(value, dict):
        for k, v in cast(dict[str, Any], value).items():
            best = max(best, _longest_string(v, (*path, k)), key=lambda t: t[0])
    elif isinstance(value, list):
        for i, v in enumerate(cast(list[Any], value)):
            best = max(best, _longest_string(v, (*path, i)), key=lambda t: t[0])
    return best


def shrink(value: dict[str, Any], limit: int = MAX_RESPONSE_CHARS) -> dict[str, Any]:
    """`value` with its longest strings halved (each marked) until it fits in `limit`."""
    while encoded_length(value) > limit:
        length, path = _longest_string(value)
        if length <= len(CUT_MARKER) * 2:  # nothing long left to cut: a result this large is a bug upstream
            raise ValueError("result too large to fit in one response")
        parent: Any = value
        for step in path[:-1]:
            parent = parent[step]
        text: str = parent[path[-1]]
        parent[path[-1]] = text[: length // 2] + CUT_MARKER
    return value
