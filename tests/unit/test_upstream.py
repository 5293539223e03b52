"""The upstream client against a scripted upstream on loopback: retries (which requests, how often, how
long), the mapping of failures to `UpstreamError`s, server-sent events, and which key a scoped client sends."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import anyio
import pytest
from prometheus_client import REGISTRY

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
from mcp_server.event_stream import ServerSentEvent
from mcp_server.protection import BackendGuard
from mcp_server.upstream import GET_ATTEMPTS, UpstreamClient
from mcp_server.upstream_answers import Answer, status_error, transport_error
from mcp_server.upstream_streams import event_json
from tests.support.scripted_upstream import (
    HANG_UP,
    NOT_HTTP,
    SILENCE,
    Failure,
    Reply,
    ScriptedUpstream,
    json_reply,
    scripted_upstream,
    sse_reply,
)

pytestmark = pytest.mark.anyio


def _client(
    upstream: ScriptedUpstream,
    *,
    api_key: str = "operator-key",
    timeout: float = 60.0,
    max_connections: int = 100,
    backend: str = "upstream",
) -> UpstreamClient:
    return UpstreamClient(upstream.url, api_key, timeout=timeout, max_connections=max_connections, backend=backend)


def _ok(body: object | None = None) -> Reply:
    return json_reply(body if body is not None else {"status": "success", "data": {"ok": True}})


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off sleeps the client asks for, recorded instead of slept."""
    asked: list[float] = []

    async def fake_sleep(delay: float) -> None:
        asked.append(delay)

    monkeypatch.setattr(upstream.anyio, "sleep", fake_sleep)
    return asked


class _ListenWhenRetrying(logging.Handler):
    """Brings the upstream up when the client says it will try again: the first attempt was refused."""

    def __init__(self, target: ScriptedUpstream) -> None:
        super().__init__(logging.DEBUG)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if ("retrying" in message or "trying once more" in message) and self.target.count == 0:
            self.target.listen()


@pytest.fixture
def upstream_logs(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    caplog.set_level(logging.DEBUG, logger=upstream.__name__)
    return logging.getLogger(upstream.__name__)


def _count(backend: str, method: str, outcome: str, retries: int) -> float:
    labels = {"backend": backend, "method": method, "status": outcome, "retries": str(retries)}
    return REGISTRY.get_sample_value("agent_bridge_upstream_request_duration_seconds_count", labels) or 0.0


# -- GET retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [HANG_UP, NOT_HTTP])
async def test_get_is_retried_after_a_connection_failure(failure: Failure, sleeps: list[float]) -> None:
    async with scripted_upstream(failure, _ok({"n": 1})) as up:
        client = _client(up)
        assert await client.get_json("api/v1/projects/1") == {"n": 1}
        await client.aclose()
    assert up.count == 2
    assert len(sleeps) == 1


async def test_get_is_retried_when_the_connection_was_refused(
    sleeps: list[float], upstream_logs: logging.Logger
) -> None:
    async with scripted_upstream(_ok({"n": 1}), listening=False) as up:
        handler = _ListenWhenRetrying(up)
        upstream_logs.addHandler(handler)
        client = _client(up)
        try:
            assert await client.get_json("api/v1/projects/1") == {"n": 1}
        finally:
            upstream_logs.removeHandler(handler)
            await client.aclose()
    assert up.count == 1
    assert len(sleeps) == 1


async def test_get_gives_up_after_three_attempts_with_a_connection_error(sleeps: list[float]) -> None:
    async with scripted_upstream(listening=False) as refusing:
        client = _client(refusing)
        with pytest.raises(UpstreamConnectionError, match=r"ConnectError.*base_url"):
            await client.get_json("api/v1/projects/1")
        await client.aclose()
    # Three attempts: two back-off sleeps between them, growing with each attempt.
    assert len(sleeps) == GET_ATTEMPTS - 1 == 2
    assert 0 < sleeps[0] < sleeps[1]


async def test_get_gives_up_after_three_dropped_connections(sleeps: list[float]) -> None:
    async with scripted_upstream(HANG_UP) as up:
        client = _client(up)
        with pytest.raises(UpstreamConnectionError, match="RemoteProtocolError"):
            await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert up.count == GET_ATTEMPTS  # aiohttp's own silent resend is off: every attempt is ours


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_get_is_retried_on_a_gateway_status(status: int, sleeps: list[float]) -> None:
    async with scripted_upstream(Reply(status), Reply(status), _ok({"n": 2})) as up:
        client = _client(up)
        assert await client.get_json("api/v1/projects/1") == {"n": 2}
        await client.aclose()
    assert up.count == 3


async def test_get_reports_the_last_gateway_status_after_three_attempts(sleeps: list[float]) -> None:
    async with scripted_upstream(json_reply({"message": "maintenance"}, 503)) as up:
        client = _client(up)
        with pytest.raises(UpstreamServerError, match="HTTP 503: maintenance") as caught:
            await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert up.count == 3
    assert caught.value.status == 503


@pytest.mark.parametrize("status", [500, 501, 400, 401, 404, 429])
async def test_get_is_not_retried_on_other_statuses(status: int, sleeps: list[float]) -> None:
    async with scripted_upstream(Reply(status), _ok()) as up:
        client = _client(up)
        with pytest.raises(UpstreamError):
            await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert up.count == 1
    assert sleeps == []


async def test_get_honours_retry_after_on_a_gateway_status(sleeps: list[float]) -> None:
    async with scripted_upstream(Reply(503, headers={"Retry-After": "1"}), _ok()) as up:
        client = _client(up)
        await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert sleeps == [pytest.approx(1.0 + upstream.RETRY_BACKOFF_SECONDS)]


async def test_get_caps_a_long_retry_after(sleeps: list[float]) -> None:
    script = (Reply(503, headers={"Retry-After": "3600"}), Reply(502, headers={"Retry-After": "30"}), _ok())
    async with scripted_upstream(*script) as up:
        client = _client(up)
        await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert up.count == 3
    assert len(sleeps) == 2
    for attempt, slept in enumerate(sleeps, start=1):
        assert 2.0 <= slept <= 2.0 + upstream.RETRY_BACKOFF_SECONDS * attempt + 1e-9


@pytest.mark.parametrize("raw", ["Wed, 21 Oct 2015 07:28:00 GMT", "-5", "soon"])
async def test_get_ignores_a_retry_after_it_cannot_use(raw: str, sleeps: list[float]) -> None:
    async with scripted_upstream(Reply(503, headers={"Retry-After": raw}), _ok()) as up:
        client = _client(up)
        await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert sleeps == [pytest.approx(upstream.RETRY_BACKOFF_SECONDS)]


async def test_get_retries_really_sleep_only_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the fake sleep: with the back-off at 0, three attempts are quick and the answer arrives."""
    monkeypatch.setattr(upstream, "RETRY_BACKOFF_SECONDS", 0.0)
    async with scripted_upstream(HANG_UP, Reply(504), _ok({"n": 3})) as up:
        client = _client(up)
        with anyio.fail_after(10):
            assert await client.get_json("api/v1/projects/1") == {"n": 3}
        await client.aclose()
    assert up.count == 3


async def test_get_read_timeout_is_not_retried(sleeps: list[float]) -> None:
    async with scripted_upstream(SILENCE, _ok()) as up:
        client = _client(up, timeout=0.5)
        with pytest.raises(UpstreamTimeoutError, match=r"within 0\.5 seconds.*timeout_seconds"):
            await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert up.count == 1
    assert sleeps == []


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_wait_for_a_free_connection_is_bounded_and_not_retried(method: str, sleeps: list[float]) -> None:
    """max_connections = 1, held by a stream: the next request waits `timeout`, then gives up unsent."""
    holding = sse_reply(b"", "text/event-stream")
    trickle = Reply(holding.status, b"", holding.headers, pieces=[b": still here\n\n"] * 200, pause=0.05)
    async with scripted_upstream(trickle) as up:
        roomy = BackendGuard(up.url, max_concurrent=10, queue_timeout=5, failure_threshold=0, open_seconds=1)
        client = UpstreamClient(up.url, "k", timeout=1.0, max_connections=1, guard=roomy)
        async with client.stream_events("api/v1/projects/1/x", {}):
            waiting = (
                client.get_json("api/v1/projects/1") if method == "GET" else client.post_json("api/v1/projects/1/c", {})
            )
            with pytest.raises(UpstreamTimeoutError, match=r"within 1 seconds"):
                await waiting
        await client.aclose()
    assert [r.method for r in up.requests] == ["POST"]  # only the stream's request reached the upstream
    assert sleeps == []


async def test_pooled_connections_are_reused_and_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "KEEPALIVE_EXPIRY_SECONDS", 1.5)
    async with scripted_upstream(_ok()) as up:
        client = _client(up)
        await client.get_json("api/v1/projects/1")
        await client.get_json("api/v1/projects/1")
        await anyio.sleep(3.0)  # past the expiry: the idle connection is not used again
        await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert [r.connection for r in up.requests] == [1, 1, 2]


# -- POST: retried only when it never left ----------------------------------------------------------


async def test_post_is_retried_once_when_the_connection_could_not_be_opened(upstream_logs: logging.Logger) -> None:
    async with scripted_upstream(_ok({"answer": 42}), listening=False) as up:
        handler = _ListenWhenRetrying(up)
        upstream_logs.addHandler(handler)
        client = _client(up, backend="post-refused-once")
        try:
            assert await client.post_json("api/v1/projects/1/conversations", {"name": "x"}) == {"answer": 42}
        finally:
            upstream_logs.removeHandler(handler)
            await client.aclose()
    # The body arrives whole, on the second attempt.
    assert [r.json() for r in up.requests] == [{"name": "x"}]
    assert _count("post-refused-once", "POST", "200", 1) == 1


async def test_post_is_tried_at_most_twice_when_it_never_connects() -> None:
    async with scripted_upstream(listening=False) as refusing:
        client = _client(refusing, backend="post-refused")
        with pytest.raises(UpstreamConnectionError, match="ConnectError"):
            await client.post_json("api/v1/projects/1/conversations", {})
        await client.aclose()
    assert _count("post-refused", "POST", "connection_error", 1) == 1  # two attempts, then the error


@pytest.mark.parametrize(
    ("failure", "error"),
    [(HANG_UP, UpstreamConnectionError), (NOT_HTTP, UpstreamConnectionError), (SILENCE, UpstreamTimeoutError)],
)
async def test_post_that_may_have_been_sent_is_not_retried(failure: Failure, error: type[UpstreamError]) -> None:
    async with scripted_upstream(failure, _ok()) as up:
        client = _client(up, timeout=0.5 if failure is SILENCE else 60.0)
        with pytest.raises(error):
            await client.post_json("api/v1/projects/1/conversations/c/messages", {"prompt": "hi"})
        await client.aclose()
    assert up.count == 1


@pytest.mark.parametrize("status", [502, 503, 504, 500])
async def test_post_with_a_response_is_not_retried(status: int) -> None:
    async with scripted_upstream(Reply(status), _ok()) as up:
        client = _client(up)
        with pytest.raises(UpstreamServerError):
            await client.post_json("api/v1/projects/1/conversations/c/messages", {"prompt": "hi"})
        await client.aclose()
    assert up.count == 1


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
    async with scripted_upstream(json_reply({"message": "said upstream"}, status)) as up:
        client = _client(up)
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
    err = status_error(Answer(429, retry_after=header))
    assert isinstance(err, UpstreamRateLimitError)
    assert err.retry_after == expected
    assert err.status == 429
    if expected is None:
        assert "retry later" in str(err)
    else:
        assert f"retry after {expected:g} seconds" in str(err)
    assert "credits" in str(err)


async def test_the_retry_after_header_reaches_the_error() -> None:
    async with scripted_upstream(Reply(429, headers={"Retry-After": "30"})) as up:
        client = _client(up)
        with pytest.raises(UpstreamRateLimitError) as caught:
            await client.post_json("api/v1/projects/1/conversations", {})
        await client.aclose()
    assert caught.value.retry_after == 30


def test_an_error_body_that_is_not_json_still_maps_by_status() -> None:
    err = status_error(Answer(502, b"<html>Bad Gateway</html>"))
    assert isinstance(err, UpstreamServerError)
    assert "HTTP 502" in str(err)
    assert "<html>" not in str(err)


def test_transport_errors_name_the_cause_and_the_remedy() -> None:
    timed_out = transport_error(aiohttp.SocketTimeoutError("x"), 12.0)
    assert isinstance(timed_out, UpstreamTimeoutError)
    assert "12 seconds" in str(timed_out)
    dropped = transport_error(aiohttp.ServerDisconnectedError(), 12.0)
    assert isinstance(dropped, UpstreamConnectionError)
    assert "RemoteProtocolError" in str(dropped)
    reset = transport_error(aiohttp.ClientOSError(104, "Connection reset by peer"), 12.0)
    assert "ReadError" in str(reset)


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"", b'{"cut": ', b"\xff\xfe\x00"])
async def test_a_2xx_body_that_is_not_json_is_a_protocol_error(body: bytes, sleeps: list[float]) -> None:
    async with scripted_upstream(Reply(200, body, {"Content-Type": "application/json"})) as up:
        client = _client(up)
        with pytest.raises(UpstreamProtocolError, match="not valid JSON"):
            await client.get_json("api/v1/projects/1")
        with pytest.raises(UpstreamProtocolError, match="not valid JSON"):
            await client.post_json("api/v1/projects/1", {})
        await client.aclose()
    assert up.count == 2  # a bad body is an answer: not retried


async def test_requests_carry_params_json_and_identifying_headers() -> None:
    async with scripted_upstream(_ok()) as up:
        client = _client(up)
        await client.get_json("api/v1/projects/1/sources", params={"page": 2, "order": "desc"})
        await client.post_json(
            "api/v1/projects/1/conversations", {"name": "né"}, params={"stream": False, "lang": "a b&c"}
        )
        await client.aclose()
    get, post = up.requests
    assert get.method == "GET"
    assert get.path == "/api/v1/projects/1/sources"
    assert get.query == {"page": "2", "order": "desc"}
    assert get.header("accept") == "application/json"
    assert (get.header("user-agent") or "").startswith("agent-bridge/")
    assert get.header_values("authorization") == ["Bearer operator-key"]
    assert get.header("cookie") is None
    assert post.method == "POST"
    assert post.header("content-type") == "application/json"
    assert post.query == {"stream": "false", "lang": "a b&c"}
    assert post.json() == {"name": "né"}


async def test_paths_are_sent_as_given_without_requoting() -> None:
    async with scripted_upstream(_ok()) as up:
        client = _client(up)
        await client.get_json("api/v1/projects/1/conversations/a%7Eb%2D1/messages")
        await client.aclose()
    assert up.requests[0].path == "/api/v1/projects/1/conversations/a%7Eb%2D1/messages"


async def test_redirects_are_not_followed() -> None:
    async with scripted_upstream(Reply(302, headers={"Location": "/api/v1/user"}), _ok()) as up:
        client = _client(up)
        with pytest.raises(UpstreamProtocolError, match="HTTP 302"):
            await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert [r.path for r in up.requests] == ["/api/v1/projects/1"]


async def test_cookies_are_not_kept_between_requests() -> None:
    """The pool is shared by every caller of a backend: one caller's cookie must not ride along with another's."""
    async with scripted_upstream(Reply(200, b"{}", {"Set-Cookie": "session=alice; Path=/"})) as up:
        # By name: a cookie jar keeps no cookies from an IP address anyway.
        client = UpstreamClient(up.url.replace("127.0.0.1", "localhost"), "k")
        await client.get_json("api/v1/projects/1")
        await client.get_json("api/v1/projects/1")
        await client.aclose()
    assert [r.header("cookie") for r in up.requests] == [None, None]


async def test_a_proxy_named_in_the_environment_carries_the_requests(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    """As with httpx2 before: HTTP_PROXY applies (read once, when the client's first request opens its
    session), NO_PROXY exempts."""
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with scripted_upstream(_ok({"via": "proxy"})) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client = UpstreamClient("http://upstream.invalid/base", "k")
        assert await client.get_json("api/v1/projects/1") == {"via": "proxy"}
        monkeypatch.setenv("NO_PROXY", "upstream.invalid")
        exempt = UpstreamClient("http://upstream.invalid/base", "k")
        with pytest.raises(UpstreamConnectionError, match="ConnectError"):
            await exempt.get_json("api/v1/projects/1")  # straight to a host that does not exist
        assert await client.get_json("api/v1/projects/2") == {"via": "proxy"}  # read once: NO_PROXY came later
        await client.aclose()
        await exempt.aclose()
    assert [r.path for r in proxy.requests] == ["/base/api/v1/projects/1", "/base/api/v1/projects/2"]
    assert all(r.header("host") == "upstream.invalid" for r in proxy.requests)


async def test_the_session_opens_inside_the_loop_and_a_closed_client_stays_closed() -> None:
    async with scripted_upstream(_ok()) as up:
        client = _client(up)  # built outside any request: nothing is opened yet
        await client.get_json("api/v1/projects/1")
        await client.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await client.get_json("api/v1/projects/1")
    assert up.count == 1


# -- server-sent events -----------------------------------------------------------------------------


async def _drain(client: UpstreamClient, received: list[dict[str, object]]) -> None:
    async with client.stream_events("api/v1/projects/1/x", {}) as events:
        async for event in events:
            received.append(event_json(event))


async def test_stream_events_yields_the_events_in_order() -> None:
    body = b'data: {"delta": "Hel"}\n\ndata: {"delta": "lo"}\n\nevent: done\ndata: {"end": true}\n\n'
    async with scripted_upstream(sse_reply(body)) as up:
        client = _client(up)
        async with client.stream_events("api/v1/projects/1/conversations/c/messages", {"prompt": "hi"}) as events:
            received = [(event.event, event_json(event)) for event in [e async for e in events]]
        await client.aclose()
    assert received == [("message", {"delta": "Hel"}), ("message", {"delta": "lo"}), ("done", {"end": True})]
    (request,) = up.requests
    assert request.method == "POST"
    assert request.header("accept") == "text/event-stream"
    assert request.json() == {"prompt": "hi"}


async def test_stream_events_yields_each_event_as_it_arrives() -> None:
    """Events split across network reads (mid-line, CRLF split in two) come out whole, one by one."""
    pieces = [b'data: {"delta": "He', b'l"}\r', b'\n\r\ndata: {"del', b'ta": "lo"}\n', b"\n"]
    reply = Reply(200, b"", {"Content-Type": "text/event-stream; charset=utf-8"}, pieces=pieces, pause=0.05)
    async with scripted_upstream(reply) as up:
        client = _client(up)
        received: list[dict[str, object]] = []
        await _drain(client, received)
        await client.aclose()
    assert received == [{"delta": "Hel"}, {"delta": "lo"}]


async def test_stream_events_refuses_a_body_that_is_not_an_event_stream() -> None:
    async with scripted_upstream(sse_reply(b'{"data": {"openai_response": "whole answer"}}', "application/json")) as up:
        client = _client(up)
        with pytest.raises(UpstreamProtocolError, match="without an event stream"):
            await _drain(client, [])
        await client.aclose()


async def test_stream_events_maps_an_error_status_before_streaming() -> None:
    async with scripted_upstream(json_reply({"message": "Too Many Attempts."}, 429, {"Retry-After": "9"})) as up:
        client = _client(up)
        with pytest.raises(UpstreamRateLimitError) as caught:
            async with client.stream_events("api/v1/projects/1/x", {}):
                pytest.fail("an error status must not open the stream")
        await client.aclose()
    assert caught.value.retry_after == 9
    assert up.count == 1


async def test_stream_events_maps_a_connection_failure() -> None:
    async with scripted_upstream(listening=False) as refusing:
        client = _client(refusing, backend="stream-refused")
        with pytest.raises(UpstreamConnectionError, match="ConnectError"):
            async with client.stream_events("api/v1/projects/1/x", {}):
                pytest.fail("no stream without a connection")
        await client.aclose()
    assert _count("stream-refused", "POST", "connection_error", 0) == 1  # a streamed POST is never retried


async def test_stream_events_maps_a_stream_cut_midway() -> None:
    cut = Reply(200, b"", {"Content-Type": "text/event-stream"}, pieces=[b'data: {"delta": "first"}\n\n'], cut=True)
    async with scripted_upstream(cut) as up:
        client = _client(up)
        received: list[dict[str, object]] = []
        with pytest.raises(UpstreamConnectionError, match="RemoteProtocolError"):
            await _drain(client, received)
        await client.aclose()
    assert received == [{"delta": "first"}]


async def test_a_reader_that_stops_early_closes_the_connection() -> None:
    """An unfinished stream must not go back to the pool: its rest would be read as the next answer."""
    endless = Reply(200, b"", {"Content-Type": "text/event-stream"}, pieces=[b'data: {"n": 1}\n\n'] * 100, pause=0.02)
    async with scripted_upstream(endless, _ok({"next": True})) as up:
        client = _client(up)
        async with client.stream_events("api/v1/projects/1/x", {}) as events:
            async for _ in events:
                break
        assert await client.get_json("api/v1/projects/1") == {"next": True}
        await client.aclose()
    assert [r.connection for r in up.requests] == [1, 2]


async def test_stream_events_read_timeout() -> None:
    stalled = Reply(200, b"", {"Content-Type": "text/event-stream"}, pieces=[b'data: {"n": 1}\n\n'], pause=30)
    async with scripted_upstream(stalled) as up:
        client = _client(up, timeout=0.5)
        received: list[dict[str, object]] = []
        with pytest.raises(UpstreamTimeoutError):
            await _drain(client, received)
        await client.aclose()
    assert received == [{"n": 1}]


async def test_stream_text_yields_the_body_as_text() -> None:
    pieces = ["Grüß ".encode(), b"Gott"[:2], b"Gott"[2:], b"!"]
    reply = Reply(200, b"", {"Content-Type": "text/plain; charset=utf-8"}, pieces=pieces)
    async with scripted_upstream(reply) as up:
        client = _client(up)
        async with client.stream_text("api/v1/chat", {"format": "text"}) as chunks:
            text = "".join([c async for c in chunks])
        await client.aclose()
    assert text == "Grüß Gott!"
    assert up.requests[0].header("accept") == "application/json"


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"text"'])
def test_event_json_refuses_events_that_are_not_json_objects(data: str) -> None:
    with pytest.raises(UpstreamProtocolError, match="Retry the question"):
        event_json(ServerSentEvent(data=data))


# -- the scoped client's key ------------------------------------------------------------------------


async def test_scoped_client_sends_the_configured_key_by_default() -> None:
    async with scripted_upstream(_ok(), _ok(), sse_reply(b"data: {}\n\n")) as up:
        client = _client(up, api_key="operator-key")
        scoped = client.scoped("api/v1/projects/1")
        await scoped.get_json("api/v1/projects/1")
        await scoped.post_json("api/v1/projects/1/conversations", {})
        async with scoped.stream_events("api/v1/projects/1/conversations/c/messages", {}) as events:
            _ = [e async for e in events]
        await client.aclose()
    assert [r.header_values("authorization") for r in up.requests] == [["Bearer operator-key"]] * 3


async def test_scoped_client_sends_its_own_key_when_given() -> None:
    async with scripted_upstream(_ok(), _ok(), sse_reply(b"data: {}\n\n"), _ok()) as up:
        client = _client(up, api_key="operator-key")
        caller = client.scoped("api/v1/projects/1", api_key="caller-key")
        operator = client.scoped("api/v1/projects/2")
        await caller.get_json("api/v1/projects/1")
        await caller.post_json("api/v1/projects/1/conversations", {})
        async with caller.stream_events("api/v1/projects/1/conversations/c/messages", {}) as events:
            _ = [e async for e in events]
        await operator.get_json("api/v1/projects/2")  # the override does not leak into the shared pool
        await client.aclose()
    keys = [r.header_values("authorization") for r in up.requests]
    assert keys == [["Bearer caller-key"]] * 3 + [["Bearer operator-key"]]
    assert caller.timeout == client.timeout


async def test_the_scripted_upstream_answers_many_requests_at_once() -> None:
    """The pool carries concurrent requests over several connections (and the script holds)."""
    async with scripted_upstream(_ok({"n": 1})) as up:
        client = _client(up, max_connections=4)
        answers = await asyncio.gather(*(client.get_json("api/v1/projects/1") for _ in range(12)))
        await client.aclose()
    assert answers == [{"n": 1}] * 12
    assert 1 < len({r.connection for r in up.requests}) <= 4
