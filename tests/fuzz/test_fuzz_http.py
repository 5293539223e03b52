"""Fuzzing the HTTP endpoints of a real bridge: generated JSON-RPC messages and raw requests (methods,
headers, content types, encodings, batches, huge and deeply nested JSON, random bytes) against
Streamable HTTP at 2025-11-25 and 2026-07-28, the HTTP+SSE message endpoint of a live stream, and the
Actions facade's raw HTTP surface (Schemathesis covers its documented shapes in tests/actions). No
5xx, no secret echoed, and a normal call answers after each batch."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any, Final

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.fuzz.budget import count_case, fuzz_settings
from tests.fuzz.conftest import assert_no_secret
from tests.fuzz.strategies import ACCEPTS, CONTENT_TYPES, bodies, deep, json_values, jsonrpc_messages
from tests.support.bridge_http import BridgeProcess

ENVELOPE: Final = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}
PATHS: Final = ("/mcp", "/agents/support/mcp", "/projects/1/mcp", "/chatgpt/mcp", "/agents/hr/mcp")


@pytest.fixture(scope="module")
def http(fuzz_bridge: BridgeProcess) -> Generator[httpx2.Client]:
    with httpx2.Client(base_url=fuzz_bridge.url, headers=fuzz_bridge.auth(), timeout=30) as client:
        yield client


def _sendable(value: str) -> bool:
    """Whether an HTTP client can put `value` in a header at all (printable ASCII, no edge whitespace)."""
    return bool(value) and value.isascii() and value.isprintable() and value.strip() == value


def _check(response: httpx2.Response) -> None:
    sent = (response.request.method, response.request.headers.get("content-type"), response.request.content[:300])
    assert response.status_code < 500, (response.status_code, response.text[:500], sent)
    assert_no_secret(response.text)
    assert_no_secret(str(response.headers))


async def _still_answers(bridge: BridgeProcess) -> None:
    async with (
        httpx2.AsyncClient(headers=bridge.auth(), timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)) as client,
    ):
        assert {t.name for t in (await client.list_tools()).tools} == {"ask", "search_citations", "list_sources"}


def _with_envelope(message: Any, keep: bool) -> Any:
    """2026-07-28 wants `params._meta` with the protocol envelope; most cases carry it, to get past it."""
    if keep and isinstance(message, dict) and isinstance(message.get("params", {}), dict):
        params: dict[str, Any] = dict(message.get("params") or {})  # pyright: ignore[reportUnknownArgumentType]
        params["_meta"] = ENVELOPE
        return {**message, "params": params}
    return message


@pytest.mark.anyio
@pytest.mark.parametrize("version", ["2025-11-25", "2026-07-28"])
async def test_streamable_http_answers_every_generated_request_without_a_server_error(
    fuzz_bridge: BridgeProcess, http: httpx2.Client, version: str
) -> None:
    @fuzz_settings(quick=150)
    @given(
        path=st.sampled_from(PATHS),
        method=st.sampled_from(["POST", "POST", "POST", "GET", "DELETE", "PUT", "OPTIONS"]),
        message=st.one_of(jsonrpc_messages(), bodies),
        envelope=st.booleans(),
        content_type=CONTENT_TYPES,
        accept=ACCEPTS,
        extra=st.dictionaries(
            st.sampled_from(["Mcp-Method", "Mcp-Name", "Mcp-Session-Id", "Last-Event-ID", "Content-Encoding"]),
            st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
            max_size=2,
        ),
    )
    def run(
        path: str, method: str, message: Any, envelope: bool, content_type: str, accept: str, extra: dict[str, str]
    ) -> None:
        count_case(f"Streamable HTTP {version}")
        if isinstance(message, bytes):
            body = message
        else:
            if version == "2026-07-28":
                message = _with_envelope(message, envelope)
            body = json.dumps(message).encode()
        headers = {"Content-Type": content_type, "Accept": accept, "MCP-Protocol-Version": version}
        method_name: Any = message.get("method") if isinstance(message, dict) else None  # pyright: ignore[reportUnknownMemberType]
        if version == "2026-07-28" and isinstance(method_name, str) and _sendable(method_name):
            headers["Mcp-Method"] = method_name
        headers.update(extra)
        if method == "GET":  # may open an event stream that stays open: the status and headers decide
            with http.stream(method, path, headers=headers) as stream:
                assert stream.status_code < 500, (stream.status_code, headers)
                assert_no_secret(str(stream.headers))
            return
        _check(http.request(method, path, content=body, headers=headers))

    run()
    await _still_answers(fuzz_bridge)


def test_a_stream_resumed_with_last_event_id_gets_a_new_stream(http: httpx2.Client) -> None:
    # Found by the long profile: the SDK answered nothing (500) for a GET with Last-Event-ID and no event store.
    headers = {"Accept": "text/event-stream", "MCP-Protocol-Version": "2025-11-25", "Last-Event-ID": "x"}
    with http.stream("GET", "/mcp", headers=headers) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")


@pytest.mark.anyio
@pytest.mark.parametrize("version", ["2025-11-25", "2026-07-28"])
async def test_a_request_whose_id_is_not_an_id_is_an_invalid_request(http: httpx2.Client, version: str) -> None:
    for bad in (None, 1.5, True, [], {}):
        params = {"_meta": ENVELOPE} if version == "2026-07-28" else {}
        body = {"jsonrpc": "2.0", "id": bad, "method": "ping", "params": params}
        headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": version}
        response = http.post("/agents/support/mcp", json=body, headers={**headers, "Mcp-Method": "ping"})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == -32600


@contextmanager
def _live_sse_stream(bridge: BridgeProcess) -> Generator[tuple[str, list[str]]]:
    """An open SSE stream (read in a thread into `events`); yields its messages path."""
    found = threading.Event()
    endpoint: list[str] = []
    events: list[str] = []
    stop = threading.Event()

    def read() -> None:
        with (
            httpx2.Client(headers=bridge.auth(), timeout=httpx2.Timeout(30, read=None)) as client,
            client.stream("GET", f"{bridge.url}/agents/support/sse") as stream,
        ):
            for line in stream.iter_lines():
                if line.startswith("data: ") and not endpoint:
                    endpoint.append(line.removeprefix("data: "))
                    found.set()
                events.append(line)
                if stop.is_set():
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert found.wait(30), "the SSE stream announced no endpoint"
    try:
        yield endpoint[0], events
    finally:
        stop.set()


@pytest.mark.anyio
async def test_the_sse_message_endpoint_answers_every_generated_message(
    fuzz_bridge: BridgeProcess, http: httpx2.Client
) -> None:
    with _live_sse_stream(fuzz_bridge) as (endpoint, events):

        @fuzz_settings(quick=150)
        @given(message=st.one_of(jsonrpc_messages(), bodies), content_type=CONTENT_TYPES)
        def run(message: Any, content_type: str) -> None:
            count_case("SSE messages")
            body = message if isinstance(message, bytes) else json.dumps(message).encode()
            _check(http.post(endpoint, content=body, headers={"Content-Type": content_type}))

        run()
        assert_no_secret("\n".join(events))
    async with Client(sse_client(f"{fuzz_bridge.url}/agents/support/sse", headers=fuzz_bridge.auth())) as client:
        assert (await client.list_tools()).tools


@pytest.mark.anyio
async def test_the_actions_facade_answers_every_generated_request_without_a_server_error(
    fuzz_bridge: BridgeProcess, http: httpx2.Client
) -> None:
    @fuzz_settings(quick=150)
    @given(
        agent=st.sampled_from(["support", "hr", "nobody", "%2e%2e", "support%00"]),
        operation=st.sampled_from(["ask", "sources", "citations", "answers/ans_00", "openapi.json", "x"]),
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]),
        query=st.dictionaries(
            st.sampled_from(["query", "limit", "offset", "openapi", "auth", "x"]), st.text(max_size=20)
        ),
        body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), bodies),
        content_type=CONTENT_TYPES,
    )
    def run(agent: str, operation: str, method: str, query: dict[str, str], body: bytes, content_type: str) -> None:
        count_case("Actions facade")
        response = http.request(
            method,
            f"/actions/{agent}/{operation}",
            params=query,
            content=body if method in ("POST", "PUT") else None,
            headers={"Content-Type": content_type},
        )
        _check(response)

    run()
    fine = http.get("/actions/support/sources")
    assert fine.status_code == 200, fine.text


def test_an_actions_body_nested_too_deep_to_read_is_a_400(http: httpx2.Client) -> None:
    """Found by the long fuzz run: a JSON body nested thousands of levels deep made json.loads raise
    RecursionError, which the facade answered with a 500."""
    response = http.post("/actions/support/ask", content=deep(5000), headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "The body is not JSON" in response.json()["message"]
