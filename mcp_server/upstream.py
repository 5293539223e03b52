"""The shared upstream HTTP client: one connection pool per backend, timeouts, safe retries, streaming.

Failures become `UpstreamError`s whose message names the cause and the remedy (`upstream_answers`).
Agents reach the pool only through a `ScopedClient` (`scoped_client`), which confines their paths;
a streamed answer is read by `upstream_streams`. The rules:

* Pooled connections expire after 4 s, before the 5 s keep-alive of common upstream servers
  (uvicorn, nginx defaults): reusing a half-closed connection fails with a read error.
* At most `max_connections` requests are out at once; one waits at most `timeout` seconds for a
  free connection, `connect_timeout` for a new one to open, and `timeout` for each read.
* A request that may have reached the upstream is retried only when it is idempotent (GET). A
  POST (a CustomGPT message costs a query credit) is retried only when it never left: the
  connection could not be opened. A GET refused with 429 is retried after the upstream's
  `Retry-After` when that is at most `MAX_HONOURED_RETRY_AFTER` seconds; a POST never is.
* Every request passes the backend's `BackendGuard` (concurrency bound, circuit breaker).
* Redirects are not followed; paths are sent as given (already percent-encoded by `ids.segment`);
  no cookies are kept (the pool is shared by every caller of the backend).

The client is aiohttp's: per request it costs about a third of the CPU of httpx2, and the upstream
client was a third of the bridge's CPU per `ask` (benchmarks/README.md). Its session is opened on
first use, inside the event loop (aiohttp binds a session to the loop that opens it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager, suppress
from types import TracebackType
from typing import Any, Final

import anyio
from yarl import URL

from mcp_server import __version__
from mcp_server.event_stream import ServerSentEvent
from mcp_server.lazy_imports import aiohttp
from mcp_server.protection import BackendGuard
from mcp_server.scoped_client import ScopedClient
from mcp_server.telemetry.upstream import UpstreamExchange
from mcp_server.upstream_answers import Answer, decoded_json, failure_name, retry_after, status_error, transport_error
from mcp_server.upstream_streams import server_sent_events, text_pieces

logger = logging.getLogger(__name__)

KEEPALIVE_EXPIRY_SECONDS: Final = 4.0
GET_ATTEMPTS: Final = 3
RETRY_BACKOFF_SECONDS: Final = 0.2
RETRYABLE_STATUS: Final = frozenset({502, 503, 504})
MAX_HONOURED_RETRY_AFTER: Final = 10.0

# What aiohttp raises when a request fails: its own errors (`aiohttp.ClientError`), and TimeoutError for
# a read or connect timeout. The `except` clauses below name them in place rather than in a module-level
# tuple, which would import aiohttp when this module is imported (see mcp_server/lazy_imports.py).
# `ClientConnectorError` and `ConnectionTimeoutError`: the request never left (no connection could be
# opened: refused, unreachable, TLS refused, timed out).

Params = Mapping[str, str | int | float | bool]
Headers = Mapping[str, str]

__all__ = ["UpstreamClient"]


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _query(params: Params | None) -> dict[str, str] | None:
    """Query values as text; booleans as JSON writes them (`stream=true`), which upstreams expect."""
    if params is None:
        return None
    return {k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in params.items()}


def _env_proxy(url: URL) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy that HTTP(S)_PROXY / NO_PROXY name for the upstream, if any: looked up once per backend
    (aiohttp's `trust_env` would look it up, and read ~/.netrc, in a thread on every request)."""
    with suppress(LookupError):
        return aiohttp.helpers.get_env_proxy_for_url(url)
    return None, None


class _ConnectionSlots:
    """The pool's size: a request holds a slot while it has a connection, and waits at most `wait`
    seconds for one. aiohttp's own pool wait shares one timeout with opening a connection, and the
    two must differ: a POST that timed out opening a connection is retried, one that waited for a
    free connection is not (it may have waited `timeout` seconds already)."""

    def __init__(self, size: int, wait: float) -> None:
        self._free = anyio.Semaphore(size)
        self._wait = wait

    async def __aenter__(self) -> None:
        if self._free.value:
            self._free.acquire_nowait()
            return
        try:
            with anyio.fail_after(self._wait):
                await self._free.acquire()
        except TimeoutError as exc:
            raise transport_error(exc, self._wait) from None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._free.release()


class UpstreamClient:
    """One pooled aiohttp session bound to a base URL and (by default) the backend's upstream key.

    Backends never hold it directly: each agent gets a `ScopedClient` (see `scoped`), which confines
    every request to the agent's own path prefix and may carry another key (passthrough mode) over
    the same pool.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_connections: int = 100,
        headers: Headers | None = None,
        backend: str = "upstream",
        guard: BackendGuard | None = None,
    ) -> None:
        self.timeout = timeout
        self.backend = backend  # the `[backends.*]` name: the label of this pool's metrics and spans
        self.guard = guard or BackendGuard(
            base_url, max_concurrent=max_connections, queue_timeout=timeout, failure_threshold=0, open_seconds=1.0
        )
        self.base_url = str(URL(base_url)).rstrip("/") + "/"  # paths are relative to it, as with httpx
        self._headers = {
            **(headers or {}),  # a kind's own headers (CodeGPT-Org-Id); never replace the key below
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": f"agent-bridge/{__version__}",
        }
        self._connect_timeout = connect_timeout
        self._max_connections = max_connections
        self._slots = _ConnectionSlots(max_connections, timeout)
        self._proxy: URL | None = None  # read from the environment when the session opens
        self._proxy_auth: aiohttp.BasicAuth | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def scoped(self, prefix: str, api_key: str | None = None) -> ScopedClient:
        """A view of this pool that only reaches `prefix` (relative to the base URL), with `api_key` if given."""
        return ScopedClient(self, prefix, api_key)

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        """The session, opened on first use (inside the event loop, as aiohttp requires)."""
        session = self._session
        if session is None:
            if self._closed:
                raise RuntimeError("the upstream client is closed")
            self._proxy, self._proxy_auth = _env_proxy(URL(self.base_url))
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections, limit_per_host=0, keepalive_timeout=KEEPALIVE_EXPIRY_SECONDS
                ),
                headers=self._headers,
                # `connect` bounds the DNS lookup and the TCP/TLS handshake (the slots bound the pool wait);
                # `sock_read` each read, from the moment the request was written; no bound on the whole.
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=self._connect_timeout,
                    sock_connect=self._connect_timeout,
                    sock_read=self.timeout,
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                json_serialize=_compact_json,
            )
            # aiohttp resends an idempotent request once, at once, when a connection fails before the
            # answer starts; the GET retries below already do that, counted and with back-off.
            session._retry_connection = False  # pyright: ignore[reportPrivateUsage]
            self._session = session
        return session

    def _url(self, path: str) -> URL:
        return URL(self.base_url + path.lstrip("/"), encoded=True)  # encoded: sent as is, never re-quoted

    def _exchange(self, method: str, path: str) -> UpstreamExchange:
        return UpstreamExchange(self.backend, method, self.base_url, path)

    async def _fetch(
        self, method: str, path: str, body: Mapping[str, Any] | None, params: Params | None, headers: Headers | None
    ) -> Answer:
        """One request and its whole answer. aiohttp's errors (and TimeoutError) reach the caller."""
        session = self._open()
        async with (
            self._slots,
            session.request(
                method,
                self._url(path),
                params=_query(params),
                json=None if body is None else dict(body),
                headers=headers,
                allow_redirects=False,
                proxy=self._proxy,
                proxy_auth=self._proxy_auth,
            ) as response,
        ):
            return Answer(response.status, await response.read(), response.headers.get("Retry-After"))

    async def get_json(self, path: str, params: Params | None = None, headers: Headers | None = None) -> Any:
        async with self.guard.request():
            return await self._get_json(path, params, headers)

    async def _get_json(self, path: str, params: Params | None, headers: Headers | None) -> Any:
        with self._exchange("GET", path) as exchange:
            for attempt in range(1, GET_ATTEMPTS + 1):
                exchange.retries = attempt - 1
                try:
                    answer = await self._fetch("GET", path, None, params, headers)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    # A GET that never connected is the safest retry of all; other timeouts already waited long.
                    never_connected = isinstance(exc, aiohttp.ConnectionTimeoutError)
                    if attempt < GET_ATTEMPTS and (never_connected or not isinstance(exc, TimeoutError)):
                        logger.debug("GET failed with %s; retrying", failure_name(exc))
                        await anyio.sleep(RETRY_BACKOFF_SECONDS * attempt)
                        continue
                    raise transport_error(exc, self.timeout) from None
                if answer.status in RETRYABLE_STATUS and attempt < GET_ATTEMPTS:
                    await anyio.sleep(min(retry_after(answer) or 0.0, 2.0) + RETRY_BACKOFF_SECONDS * attempt)
                    continue
                wait = retry_after(answer) if answer.status == 429 else None
                if wait is not None and wait <= MAX_HONOURED_RETRY_AFTER and attempt < GET_ATTEMPTS:
                    logger.debug("GET refused with 429; retrying after %g s as the upstream asks", wait)
                    await anyio.sleep(wait)
                    continue
                exchange.answered(answer.status, attempt - 1)
                if answer.ok:
                    return decoded_json(answer)
                raise status_error(answer)
        raise AssertionError("unreachable")  # pragma: no cover

    async def post_json(
        self, path: str, body: Mapping[str, Any], params: Params | None = None, headers: Headers | None = None
    ) -> Any:
        async with self.guard.request():
            with self._exchange("POST", path) as exchange:
                answer = await self._post_once(path, body, params, headers, exchange)
                exchange.answered(answer.status, exchange.retries)
            if answer.ok:
                return decoded_json(answer)
            raise status_error(answer)

    async def _post_once(
        self,
        path: str,
        body: Mapping[str, Any],
        params: Params | None,
        headers: Headers | None,
        exchange: UpstreamExchange,
    ) -> Answer:
        for attempt in (1, 2):
            exchange.retries = attempt - 1
            try:
                return await self._fetch("POST", path, body, params, headers)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                if attempt == 1:
                    logger.debug("POST could not open a connection (%s); trying once more", failure_name(exc))
                    continue
                raise transport_error(exc, self.timeout) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise transport_error(exc, self.timeout) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def stream_events(
        self, path: str, body: Mapping[str, Any], params: Params | None = None, headers: Headers | None = None
    ) -> AsyncGenerator[AsyncGenerator[ServerSentEvent]]:
        """POST and read the response as server-sent events. Leaving the block closes the connection."""
        asking = {**(headers or {}), "Accept": "text/event-stream"}
        async with self.guard.request(), self._streamed(path, body, params, asking) as response:
            events = server_sent_events(response, self.timeout)
            try:
                yield events
            finally:  # a reader that stops early (finish frame, error, cancellation) leaves it suspended
                await events.aclose()

    @asynccontextmanager
    async def stream_text(
        self, path: str, body: Mapping[str, Any], params: Params | None = None, headers: Headers | None = None
    ) -> AsyncGenerator[AsyncGenerator[str]]:
        """POST and read the response body as raw text pieces, as they arrive (CodeGPT's `format: "text"`)."""
        async with self.guard.request(), self._streamed(path, body, params, headers) as response:
            pieces = text_pieces(response, self.timeout)
            try:
                yield pieces
            finally:
                await pieces.aclose()

    @asynccontextmanager
    async def _streamed(
        self, path: str, body: Mapping[str, Any], params: Params | None, headers: Headers | None
    ) -> AsyncGenerator[aiohttp.ClientResponse]:
        """POST (never retried) and hand over the successful response unread; released on leaving the block
        (an unfinished answer closes its connection rather than going back to the pool)."""
        with self._exchange("POST", path) as exchange:
            async with self._slots:
                try:
                    response = await self._open().request(
                        "POST",
                        self._url(path),
                        params=_query(params),
                        json=dict(body),
                        headers=headers,
                        allow_redirects=False,
                        proxy=self._proxy,
                        proxy_auth=self._proxy_auth,
                    )
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise transport_error(exc, self.timeout) from None
                try:
                    exchange.answered(response.status)
                    if not 200 <= response.status < 300:
                        try:
                            said = await response.read()
                        except (aiohttp.ClientError, TimeoutError) as exc:
                            raise transport_error(exc, self.timeout) from None
                        raise status_error(Answer(response.status, said, response.headers.get("Retry-After")))
                    yield response
                finally:
                    response.release()
