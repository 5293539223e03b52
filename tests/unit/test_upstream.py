"""The upstream client without a network: retries (which requests, how often, how long), the mapping of
failures to `UpstreamError`s, server-sent events, and which key a scoped client sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import anyio
import httpx2
import pytest

from mcp_server import upstream
from mcp_server.errors import (
    UpstreamAuthError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamNotFoundError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from mcp_server.upstream import GET_ATTEMPTS, UpstreamClient, event_json, status_error, transport_error

pytestmark = pytest.mark.anyio

BASE = "http://upstream.test"
Handler = Callable[[httpx2.Request], httpx2.Response]


class Calls:
    """A MockTransport handler that answers from a script and records every request it sees."""

    def __init__(self, *script: httpx2.Response | type[httpx2.TransportError]) -> None:
        self.script = list(script)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]  # the last step repeats
        if isinstance(step, httpx2.Response):
            return step
        raise step("scripted failure", request=request)

    @property
    def count(self) -> int:
        return len(self.requests)


def _client(handler: Handler, *, api_key: str = "operator-key", timeout: float = 60.0) -> UpstreamClient:
    return UpstreamClient(BASE, api_key, timeout=timeout, transport=httpx2.MockTransport(handler))


def _ok(body: object | None = None) -> httpx2.Response:
    return httpx2.Response(200, json=body if body is not None else {"status": "success", "data": {"ok": True}})


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off sleeps the client asks for, recorded instead of slept."""
    asked: list[float] = []

    async def fake_sleep(delay: float) -> None:
        asked.append(delay)

    monkeypatch.setattr(upstream.anyio, "sleep", fake_sleep)
    return asked


# -- GET retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [httpx2.ConnectError, httpx2.ReadError, httpx2.RemoteProtocolError])
async def test_get_is_retried_after_a_connection_failure(
    failure: type[httpx2.TransportError], sleeps: list[float]
) -> None:
    calls = Calls(failure, _ok({"n": 1}))
    client = _client(calls)
    assert await client.get_json("api/v1/projects/1") == {"n": 1}
    await client.aclose()
    assert calls.count == 2
    assert len(sleeps) == 1


async def test_get_gives_up_after_three_attempts_with_a_connection_error(sleeps: list[float]) -> None:
    calls = Calls(httpx2.ConnectError)
    client = _client(calls)
    with pytest.raises(UpstreamConnectionError, match=r"ConnectError.*base_url"):
        await client.get_json("api/v1/projects/1")
    await client.aclose()
    assert calls.count == GET_ATTEMPTS == 3
    # The back-off grows with each attempt.
    assert len(sleeps) == 2
    assert 0 < sleeps[0] < sleeps[1]


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_get_is_retried_on_a_gateway_status(status: int, sleeps: list[float]) -> None:
    calls = Calls(httpx2.Response(status), httpx2.Response(status), _ok({"n": 2}))
    client = _client(calls)
    assert await client.get_json("api/v1/projects/1") == {"n": 2}
    await client.aclose()
    assert calls.count == 3


async def test_get_reports_the_last_gateway_status_after_three_attempts(sleeps: list[float]) -> None:
    calls = Calls(httpx2.Response(503, json={"message": "maintenance"}))
    client = _client(calls)
    with pytest.raises(UpstreamServerError, match="HTTP 503: maintenance") as caught:
        await client.get_json("api/v1/projects/1")
    await client.aclose()
    assert calls.count == 3
    assert caught.value.status == 503


@pytest.mark.parametrize("status", [500, 501, 400, 401, 404, 429])
async def test_get_is_not_retried_on_other_statuses(status: int, sleeps: list[float]) -> None:
    calls = Calls(httpx2.Response(status), _ok())
    client = _client(calls)
    with pytest.raises(UpstreamError):
        await client.get_json("api/v1/projects/1")
    await client.aclose()
    assert calls.count == 1
    assert sleeps == []


async def test_get_honours_retry_after_on_a_gateway_status(sleeps: list[float]) -> None:
    calls = Calls(httpx2.Response(503, headers={"Retry-After": "1"}), _ok())
    client = _client(calls)
    await client.get_json("api/v1/projects/1")
    await client.aclose()
    assert sleeps == [pytest.approx(1.0 + upstream.RETRY_BACKOFF_SECONDS)]


async def test_get_caps_a_long_retry_after(sleeps: list[float]) -> None:
    calls = Calls(
        httpx2.Response(503, headers={"Retry-After": "3600"}),
        httpx2.Response(502, headers={"Retry-After": "30"}),
        _ok(),
    )
    client = _client(calls)
    await client.get_json("api/v1/projects/1")
    await client.aclose()
    assert calls.count == 3
    assert len(sleeps) == 2
    for attempt, slept in enumerate(sleeps, start=1):
        assert 2.0 <= slept <= 2.0 + upstream.RETRY_BACKOFF_SECONDS * attempt + 1e-9


@pytest.mark.parametrize("raw", ["Wed, 21 Oct 2015 07:28:00 GMT", "-5", "soon"])
async def test_get_ignores_a_retry_after_it_cannot_use(raw: str, sleeps: list[float]) -> None:
    calls = Calls(httpx2.Response(503, headers={"Retry-After": raw}), _ok())
    client = _client(calls)
    await client.get_json("api/v1/projects/1")
    await client.aclose()
    assert sleeps == [pytest.approx(upstream.RETRY_BACKOFF_SECONDS)]


async def test_get_retries_really_sleep_only_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the fake sleep: with the back-off at 0, three attempts are quick and the answer arrives."""
    monkeypatch.setattr(upstream, "RETRY_BACKOFF_SECONDS", 0.0)
    calls = Calls(httpx2.ReadError, httpx2.Response(504), _ok({"n": 3}))
    client = _client(calls)
    with anyio.fail_after(2):
        assert await client.get_json("api/v1/projects/1") == {"n": 3}
    await client.aclose()
    assert calls.count == 3


@pytest.mark.parametrize("failure", [httpx2.ReadTimeout, httpx2.PoolTimeout, httpx2.WriteTimeout])
async def test_get_timeout_is_not_retried(failure: type[httpx2.TransportError], sleeps: list[float]) -> None:
    calls = Calls(failure, _ok())
    client = _client(calls, timeout=7.5)
    with pytest.raises(UpstreamTimeoutError, match=r"within 7\.5 seconds.*timeout_seconds"):
        await client.get_json("api/v1/projects/1")
    await client.aclose()
    assert calls.count == 1
    assert sleeps == []


# -- POST: retried only when it never left ----------------------------------------------------------


async def test_post_is_retried_once_when_the_connection_could_not_be_opened() -> None:
    calls = Calls(httpx2.ConnectError, _ok({"answer": 42}))
    client = _client(calls)
    assert await client.post_json("api/v1/projects/1/conversations", {"name": "x"}) == {"answer": 42}
    await client.aclose()
    assert calls.count == 2
    # The body is sent again, whole.
    assert [json.loads(r.content) for r in calls.requests] == [{"name": "x"}] * 2


async def test_post_is_tried_at_most_twice_when_it_never_connects() -> None:
    calls = Calls(httpx2.ConnectError)
    client = _client(calls)
    with pytest.raises(UpstreamConnectionError):
        await client.post_json("api/v1/projects/1/conversations", {})
    await client.aclose()
    assert calls.count == 2


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx2.ReadError, UpstreamConnectionError),
        (httpx2.RemoteProtocolError, UpstreamConnectionError),
        (httpx2.ReadTimeout, UpstreamTimeoutError),
        (httpx2.WriteError, UpstreamConnectionError),
        (httpx2.PoolTimeout, UpstreamTimeoutError),
    ],
)
async def test_post_that_may_have_been_sent_is_not_retried(
    failure: type[httpx2.TransportError], error: type[UpstreamError]
) -> None:
    calls = Calls(failure, _ok())
    client = _client(calls)
    with pytest.raises(error):
        await client.post_json("api/v1/projects/1/conversations/c/messages", {"prompt": "hi"})
    await client.aclose()
    assert calls.count == 1


@pytest.mark.parametrize("status", [502, 503, 504, 500])
async def test_post_with_a_response_is_not_retried(status: int) -> None:
    calls = Calls(httpx2.Response(status), _ok())
    client = _client(calls)
    with pytest.raises(UpstreamServerError):
        await client.post_json("api/v1/projects/1/conversations/c/messages", {"prompt": "hi"})
    await client.aclose()
    assert calls.count == 1


# -- status and body mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, UpstreamAuthError),
        (403, UpstreamAuthError),
        (404, UpstreamNotFoundError),
        (429, UpstreamRateLimitError),
        (500, UpstreamServerError),
        (502, UpstreamServerError),
        (599, UpstreamServerError),
        (400, UpstreamProtocolError),
        (405, UpstreamProtocolError),
        (409, UpstreamProtocolError),
        (422, UpstreamProtocolError),
    ],
)
async def test_non_2xx_becomes_the_matching_error(status: int, error: type[UpstreamError]) -> None:
    client = _client(Calls(httpx2.Response(status, json={"message": "said upstream"})))
    with pytest.raises(error) as caught:
        await client.post_json("api/v1/projects/1/conversations", {})
    await client.aclose()
    assert type(caught.value) is error
    assert caught.value.status == status
    if status in (401, 403):
        assert "api_key" in str(caught.value)
    else:
        assert f"HTTP {status}: said upstream" in str(caught.value)


@pytest.mark.parametrize(
    ("header", "expected"), [("30", 30.0), ("1.5", 1.5), ("0", 0.0), (None, None), ("later", None)]
)
def test_rate_limit_carries_retry_after(header: str | None, expected: float | None) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    err = status_error(httpx2.Response(429, headers=headers))
    assert isinstance(err, UpstreamRateLimitError)
    assert err.retry_after == expected
    assert err.status == 429
    if expected is None:
        assert "retry later" in str(err)
    else:
        assert f"retry after {expected:g} seconds" in str(err)
    assert "credits" in str(err)


def test_an_error_body_that_is_not_json_still_maps_by_status() -> None:
    err = status_error(httpx2.Response(502, text="<html>Bad Gateway</html>"))
    assert isinstance(err, UpstreamServerError)
    assert "HTTP 502" in str(err)
    assert "<html>" not in str(err)


def test_transport_errors_name_the_cause_and_the_remedy() -> None:
    request = httpx2.Request("GET", BASE)
    timed_out = transport_error(httpx2.ReadTimeout("x", request=request), 12.0)
    assert isinstance(timed_out, UpstreamTimeoutError)
    assert "12 seconds" in str(timed_out)
    dropped = transport_error(httpx2.ReadError("x", request=request), 12.0)
    assert isinstance(dropped, UpstreamConnectionError)
    assert "ReadError" in str(dropped)


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"", b'{"cut": ', b"\xff\xfe\x00"])
async def test_a_2xx_body_that_is_not_json_is_a_protocol_error(body: bytes, sleeps: list[float]) -> None:
    calls = Calls(httpx2.Response(200, content=body, headers={"content-type": "application/json"}))
    client = _client(calls)
    with pytest.raises(UpstreamProtocolError, match="not valid JSON"):
        await client.get_json("api/v1/projects/1")
    with pytest.raises(UpstreamProtocolError, match="not valid JSON"):
        await client.post_json("api/v1/projects/1", {})
    await client.aclose()
    assert calls.count == 2  # a bad body is an answer: not retried


async def test_requests_carry_params_json_and_identifying_headers() -> None:
    calls = Calls(_ok())
    client = _client(calls)
    await client.get_json("api/v1/projects/1/sources", params={"page": 2, "order": "desc"})
    await client.post_json("api/v1/projects/1/conversations", {"name": "n"}, params={"stream": False})
    await client.aclose()
    get, post = calls.requests
    assert get.method == "GET"
    assert get.url.path == "/api/v1/projects/1/sources"
    assert dict(get.url.params) == {"page": "2", "order": "desc"}
    assert get.headers["accept"] == "application/json"
    assert get.headers["user-agent"].startswith("agent-bridge/")
    assert post.method == "POST"
    assert post.headers["content-type"] == "application/json"
    assert post.url.params["stream"] == "false"
    assert b'"name"' in post.content


async def test_redirects_are_not_followed() -> None:
    calls = Calls(httpx2.Response(302, headers={"Location": "http://elsewhere.test/steal"}))
    client = _client(calls)
    with pytest.raises(UpstreamProtocolError, match="HTTP 302"):
        await client.get_json("api/v1/projects/1")
    await client.aclose()
    assert calls.count == 1
    assert calls.requests[0].url.host == "upstream.test"


# -- server-sent events -----------------------------------------------------------------------------


def _sse(body: bytes | AsyncIterator[bytes], content_type: str = "text/event-stream") -> httpx2.Response:
    return httpx2.Response(200, content=body, headers={"content-type": content_type})


async def _drain(client: UpstreamClient, received: list[dict[str, object]]) -> None:
    async with client.stream_events("api/v1/projects/1/x", {}) as events:
        async for event in events:
            received.append(event_json(event))


async def test_stream_events_yields_the_events_in_order() -> None:
    body = b'data: {"delta": "Hel"}\n\ndata: {"delta": "lo"}\n\nevent: done\ndata: {"end": true}\n\n'
    calls = Calls(_sse(body))
    client = _client(calls)
    async with client.stream_events("api/v1/projects/1/conversations/c/messages", {"prompt": "hi"}) as events:
        received = [(event.event, event_json(event)) for event in [e async for e in events]]
    await client.aclose()
    assert received == [("message", {"delta": "Hel"}), ("message", {"delta": "lo"}), ("done", {"end": True})]
    (request,) = calls.requests
    assert request.method == "POST"
    assert request.headers["accept"] == "text/event-stream"


async def test_stream_events_refuses_a_body_that_is_not_an_event_stream() -> None:
    client = _client(Calls(_sse(b'{"data": {"openai_response": "whole answer"}}', "application/json")))
    with pytest.raises(UpstreamProtocolError, match="without an event stream"):
        await _drain(client, [])
    await client.aclose()


async def test_stream_events_maps_an_error_status_before_streaming() -> None:
    calls = Calls(httpx2.Response(429, json={"message": "Too Many Attempts."}, headers={"Retry-After": "9"}))
    client = _client(calls)
    with pytest.raises(UpstreamRateLimitError) as caught:
        async with client.stream_events("api/v1/projects/1/x", {}):
            pytest.fail("an error status must not open the stream")
    await client.aclose()
    assert caught.value.retry_after == 9
    assert calls.count == 1


async def test_stream_events_maps_a_connection_failure() -> None:
    calls = Calls(httpx2.ConnectError)
    client = _client(calls)
    with pytest.raises(UpstreamConnectionError):
        async with client.stream_events("api/v1/projects/1/x", {}):
            pytest.fail("no stream without a connection")
    await client.aclose()
    assert calls.count == 1  # a streamed POST is never retried


async def test_stream_events_maps_a_stream_cut_midway() -> None:
    async def cut() -> AsyncIterator[bytes]:
        yield b'data: {"delta": "first"}\n\n'
        raise httpx2.ReadError("peer closed")

    client = _client(Calls(_sse(cut())))
    received: list[dict[str, object]] = []
    with pytest.raises(UpstreamConnectionError, match="ReadError"):
        await _drain(client, received)
    await client.aclose()
    assert received == [{"delta": "first"}]


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"text"'])
def test_event_json_refuses_events_that_are_not_json_objects(data: str) -> None:
    with pytest.raises(UpstreamProtocolError, match="Retry the question"):
        event_json(httpx2.ServerSentEvent(data=data))


# -- the scoped client's key ------------------------------------------------------------------------


class KeyRecorder:
    """Answers JSON, or an event stream when asked for one, and records the Authorization headers."""

    def __init__(self) -> None:
        self.keys: list[list[str]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.keys.append(request.headers.get_list("authorization"))
        if request.headers.get("accept") == "text/event-stream":
            return _sse(b"data: {}\n\n")
        return _ok()


async def test_scoped_client_sends_the_configured_key_by_default() -> None:
    calls = KeyRecorder()
    client = _client(calls, api_key="operator-key")
    scoped = client.scoped("api/v1/projects/1")
    await scoped.get_json("api/v1/projects/1")
    await scoped.post_json("api/v1/projects/1/conversations", {})
    async with scoped.stream_events("api/v1/projects/1/conversations/c/messages", {}) as events:
        _ = [e async for e in events]
    await client.aclose()
    assert calls.keys == [["Bearer operator-key"]] * 3


async def test_scoped_client_sends_its_own_key_when_given() -> None:
    calls = KeyRecorder()
    client = _client(calls, api_key="operator-key")
    caller = client.scoped("api/v1/projects/1", api_key="caller-key")
    operator = client.scoped("api/v1/projects/2")
    await caller.get_json("api/v1/projects/1")
    await caller.post_json("api/v1/projects/1/conversations", {})
    async with caller.stream_events("api/v1/projects/1/conversations/c/messages", {}) as events:
        _ = [e async for e in events]
    await operator.get_json("api/v1/projects/2")  # the override does not leak into the shared pool
    await client.aclose()
    assert calls.keys == [["Bearer caller-key"]] * 3 + [["Bearer operator-key"]]
    assert caller.timeout == client.timeout
