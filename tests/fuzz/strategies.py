"""Hypothesis strategies for what a client might send: JSON values of every shape (unicode edge cases,
huge and deeply nested ones), JSON-RPC messages with wrong types in every field, and raw bodies."""

from __future__ import annotations

import json
from typing import Any, Final

from hypothesis import strategies as st

METHODS: Final = (
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "prompts/list",
    "completion/complete",
    "logging/setLevel",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
)
TOOLS: Final = ("ask", "search_citations", "list_sources", "support_ask", "hr_ask", "search", "fetch")
EDGE_TEXT: Final = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",
        "\ufeff",
        "é",
        "\U0001d518\U0001d52b\U0001d526",
        "\u202e",
        "a" * 3_000,
        "../../etc/passwd",
        "%00",
        "${X}",
    ]
)
TEXT: Final = st.one_of(st.text(max_size=40), EDGE_TEXT)

scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12,
)


def deep(depth: int) -> bytes:
    """A message whose params nest `depth` levels (as text: too deep for `json.dumps` to write)."""
    return b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' + b"[" * depth + b"]" * depth + b"}"


deep_bodies = st.integers(min_value=50, max_value=5000).map(deep)


@st.composite
def _params(draw: st.DrawFn, method: str) -> Any:
    if method == "tools/call" and draw(st.booleans()):
        arguments = draw(
            st.one_of(
                st.fixed_dictionaries({"question": TEXT}),
                st.dictionaries(st.sampled_from(["question", "conversation_id", "query", "limit", "x"]), json_values),
                json_values,
            )
        )
        return {"name": draw(st.one_of(st.sampled_from(TOOLS), TEXT, json_values)), "arguments": arguments}
    if method == "resources/read" and draw(st.booleans()):
        return {"uri": draw(st.one_of(st.sampled_from(["agent://support/settings", "agent://hr/settings"]), TEXT))}
    return draw(st.one_of(st.dictionaries(TEXT, json_values, max_size=3), json_values))


@st.composite
def jsonrpc_messages(draw: st.DrawFn) -> Any:
    """A dict shaped like a JSON-RPC message, every field possibly missing or of the wrong type."""
    method = draw(st.one_of(st.sampled_from(METHODS), TEXT))
    message: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        message["jsonrpc"] = draw(st.one_of(st.just("2.0"), json_values))
    if draw(st.integers(0, 3)):
        message["id"] = draw(st.one_of(st.integers(), TEXT, json_values))
    if draw(st.integers(0, 9)):
        message["method"] = draw(st.one_of(st.just(method), json_values))
    if draw(st.booleans()):
        message["params"] = draw(_params(method))
    if draw(st.integers(0, 9)) == 0:
        message[draw(st.sampled_from(["result", "error", "extra"]))] = draw(json_values)
    return message


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


bodies: st.SearchStrategy[bytes] = st.one_of(
    jsonrpc_messages().map(encoded),
    st.lists(jsonrpc_messages(), max_size=3).map(encoded),  # batches
    json_values.map(encoded),
    deep_bodies,
    st.binary(max_size=300),
    TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [b"", b"{", b'{"jsonrpc":"2.0","id":1,"method":"ping"', b"\xff\xfe{}", b'{"id":' + b"9" * 5000 + b"}"]
    ),
)
CONTENT_TYPES: Final = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        "application/json\x7f",
    ]
)
ACCEPTS: Final = st.sampled_from(
    ["application/json, text/event-stream", "application/json", "text/event-stream", "*/*", "", "text/html"]
)
