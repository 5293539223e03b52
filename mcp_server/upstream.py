"""The shared upstream HTTP client: one connection pool per backend, timeouts, safe retries, SSE.

Failures become `UpstreamError`s whose message names the cause and the remedy. Two rules:

* Pooled connections expire after 4 s, before the 5 s keep-alive of common upstream servers
  (uvicorn, nginx defaults): reusing a half-closed connection fails with a read error.
* A request that may have reached the upstream is retried only when it is idempotent (GET). A
  POST (a CustomGPT message costs a query credit) is retried only when it never left: the
  connection could not be opened. A GET refused with 429 is retried after the upstream's
  `Retry-After` when that is at most `MAX_HONOURED_RETRY_AFTER` seconds; a POST never is.
* Every request passes the backend's `BackendGuard` (concurrency bound, circuit breaker).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final, cast
from urllib.parse import unquote

import anyio
import httpx2

from mcp_server import __version__
from mcp_server.errors import (
    UpstreamAuthError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamNotFoundError,
    UpstreamPathError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from mcp_server.protection import BackendGuard
from mcp_server.telemetry.upstream import UpstreamExchange

logger = logging.getLogger(__name__)

KEEPALIVE_EXPIRY_SECONDS: Final = 4.0
GET_ATTEMPTS: Final = 3
RETRY_BACKOFF_SECONDS: Final = 0.2
RETRYABLE_STATUS: Final = frozenset({502, 503, 504})
MAX_HONOURED_RETRY_AFTER: Final = 10.0
_NEVER_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)

Params = Mapping[str, str | int | float | bool]
Headers = Mapping[str, str]


def _upstream_message(response: httpx2.Response) -> str:
    """The upstream's own explanation from a CustomGPT envelope or an OpenAI error body, if any."""
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        return ""
    if not isinstance(body, dict):
        return ""
    envelope: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
    for candidate in (envelope.get("data"), envelope, envelope.get("error")):
        if isinstance(candidate, dict):
            message = cast(dict[str, Any], candidate).get("message")
            if isinstance(message, str):
                return message
    return ""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_UPSTREAM_MESSAGE: Final = 160


def sanitised(said: str) -> str:
    """An upstream's explanation as one short line that can carry no credential.

    Upstreams quote keys back ("Incorrect API key provided: sk-ab***yz"); anything that looks like
    a key (a word mixing letters and digits of 12+ characters, or one with `*` in it) is dropped.
    """
    line = _CONTROL.sub(" ", said)
    words = [w for w in line.split() if not _key_like(w)]
    text = " ".join(words)
    return text if len(text) <= MAX_UPSTREAM_MESSAGE else text[: MAX_UPSTREAM_MESSAGE - 1].rstrip() + "…"


def _key_like(word: str) -> bool:
    if "*" in word or word.lower().startswith(("sk-", "sk_", "key-", "bearer")):
        return True
    return len(word) >= 12 and any(c.isdigit() for c in word) and any(c.isalpha() for c in word)


def _retry_after(response: httpx2.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def status_error(response: httpx2.Response) -> UpstreamError:
    """Map a non-2xx upstream response to the error a model should read."""
    status = response.status_code
    said = sanitised(_upstream_message(response))
    detail = f"HTTP {status}" + (f": {said}" if said else "")
    if status in (401, 403):  # what an upstream says about a refused key may quote the key
        return UpstreamAuthError(
            f"the upstream refused the API key (HTTP {status}). Check the backend's api_key "
            "and that the key can use this agent.",
            status=status,
        )
    if status == 404:
        return UpstreamNotFoundError(
            f"not found upstream ({detail}). Check the project id, conversation id or citation id.", status=status
        )
    if status == 429:
        wait = _retry_after(response)
        when = f"retry after {wait:g} seconds" if wait is not None else "retry later"
        return UpstreamRateLimitError(
            f"the upstream is rate-limiting or out of query credits ({detail}); {when}, or add credits to the account.",
            retry_after=wait,
        )
    if status >= 500:
        return UpstreamServerError(
            f"the upstream failed ({detail}). This is usually temporary; retry in a minute.", status=status
        )
    return UpstreamProtocolError(f"the upstream rejected the request ({detail}).", status=status)


def transport_error(exc: httpx2.HTTPError, timeout: float) -> UpstreamError:
    if isinstance(exc, httpx2.TimeoutException):
        return UpstreamTimeoutError(
            f"the upstream did not answer within {timeout:g} seconds. It may be overloaded; retry, "
            "or raise the backend's timeout_seconds."
        )
    kind = type(exc).__name__
    return UpstreamConnectionError(
        f"the connection to the upstream failed ({kind}). Check that the backend's base_url is reachable; "
        "retrying usually helps."
    )


def _json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        raise UpstreamProtocolError(
            f"the upstream sent a body that is not valid JSON (HTTP {response.status_code}). "
            "Retry; if it persists the upstream is misbehaving."
        ) from None


class UpstreamClient:
    """One pooled httpx2 client bound to a base URL and (by default) the backend's upstream key.

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
        transport: httpx2.AsyncBaseTransport | None = None,
        headers: Headers | None = None,
        backend: str = "upstream",
        guard: BackendGuard | None = None,
    ) -> None:
        self.timeout = timeout
        self.backend = backend  # the `[backends.*]` name: the label of this pool's metrics and spans
        self.guard = guard or BackendGuard(
            base_url, max_concurrent=max_connections, queue_timeout=timeout, failure_threshold=0, open_seconds=1.0
        )
        self._client = httpx2.AsyncClient(
            base_url=base_url,
            headers={
                **(headers or {}),  # a kind's own headers (CodeGPT-Org-Id); never replace the key below
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": f"agent-bridge/{__version__}",
            },
            timeout=httpx2.Timeout(timeout, connect=connect_timeout),
            limits=httpx2.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
            ),
            transport=transport,
            follow_redirects=False,
        )

    def scoped(self, prefix: str, api_key: str | None = None) -> ScopedClient:
        """A view of this pool that only reaches `prefix` (relative to the base URL), with `api_key` if given."""
        return ScopedClient(self, prefix, api_key)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _exchange(self, method: str, path: str) -> UpstreamExchange:
        return UpstreamExchange(self.backend, method, self._client.base_url, path)

    async def get_json(self, path: str, params: Params | None = None, headers: Headers | None = None) -> Any:
        async with self.guard.request():
            return await self._get_json(path, params, headers)

    async def _get_json(self, path: str, params: Params | None, headers: Headers | None) -> Any:
        with self._exchange("GET", path) as exchange:
            for attempt in range(1, GET_ATTEMPTS + 1):
                exchange.retries = attempt - 1
                try:
                    response = await self._client.get(path, params=params, headers=headers)
                except (httpx2.TransportError, httpx2.TimeoutException) as exc:
                    # A GET that never connected is the safest retry of all; other timeouts already waited long.
                    never_connected = isinstance(exc, httpx2.ConnectTimeout)
                    if attempt < GET_ATTEMPTS and (never_connected or not isinstance(exc, httpx2.TimeoutException)):
                        logger.debug("GET failed with %s; retrying", type(exc).__name__)
                        await anyio.sleep(RETRY_BACKOFF_SECONDS * attempt)
                        continue
                    raise transport_error(exc, self.timeout) from None
                if response.status_code in RETRYABLE_STATUS and attempt < GET_ATTEMPTS:
                    await anyio.sleep(min(_retry_after(response) or 0.0, 2.0) + RETRY_BACKOFF_SECONDS * attempt)
                    continue
                wait = _retry_after(response) if response.status_code == 429 else None
                if wait is not None and wait <= MAX_HONOURED_RETRY_AFTER and attempt < GET_ATTEMPTS:
                    logger.debug("GET refused with 429; retrying after %g s as the upstream asks", wait)
                    await anyio.sleep(wait)
                    continue
                exchange.answered(response.status_code, attempt - 1)
                if response.is_success:
                    return _json(response)
                raise status_error(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def post_json(
        self, path: str, body: Mapping[str, Any], params: Params | None = None, headers: Headers | None = None
    ) -> Any:
        async with self.guard.request():
            with self._exchange("POST", path) as exchange:
                response = await self._send_once("POST", path, body, params, headers, exchange)
                exchange.answered(response.status_code, exchange.retries)
            if response.is_success:
                return _json(response)
            raise status_error(response)

    async def _send_once(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any],
        params: Params | None,
        headers: Headers | None,
        exchange: UpstreamExchange,
    ) -> httpx2.Response:
        for attempt in (1, 2):
            exchange.retries = attempt - 1
            try:
                return await self._client.request(method, path, json=dict(body), params=params, headers=headers)
            except _NEVER_SENT as exc:
                if attempt == 1 and not isinstance(exc, httpx2.PoolTimeout):
                    continue
                raise transport_error(exc, self.timeout) from None
            except (httpx2.TransportError, httpx2.TimeoutException) as exc:
                raise transport_error(exc, self.timeout) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def stream_events(
        self, path: str, body: Mapping[str, Any], params: Params | None = None, headers: Headers | None = None
    ) -> AsyncGenerator[AsyncGenerator[httpx2.ServerSentEvent]]:
        """POST and read the response as server-sent events. Leaving the block closes the connection."""
        request = self._client.build_request(
            "POST", path, json=dict(body), params=params, headers={**(headers or {}), "Accept": "text/event-stream"}
        )
        async with self.guard.request(), self._streamed("POST", path, request) as response:
            events = self._events(response)
            try:
                yield events
            finally:  # a reader that stops early (finish frame, error, cancellation) leaves it suspended
                await events.aclose()

    @asynccontextmanager
    async def stream_text(
        self, path: str, body: Mapping[str, Any], params: Params | None = None, headers: Headers | None = None
    ) -> AsyncGenerator[AsyncGenerator[str]]:
        """POST and read the response body as raw text pieces, as they arrive (CodeGPT's `format: "text"`)."""
        request = self._client.build_request("POST", path, json=dict(body), params=params, headers=headers)
        async with self.guard.request(), self._streamed("POST", path, request) as response:
            pieces = self._text(response)
            try:
                yield pieces
            finally:
                await pieces.aclose()

    @asynccontextmanager
    async def _streamed(self, method: str, path: str, request: httpx2.Request) -> AsyncGenerator[httpx2.Response]:
        """Send `request` and hand over its successful response unread; closed on leaving the block."""
        with self._exchange(method, path) as exchange:
            try:
                response = await self._client.send(request, stream=True)
            except (httpx2.TransportError, httpx2.TimeoutException) as exc:
                raise transport_error(exc, self.timeout) from None
            exchange.answered(response.status_code)
            try:
                if not response.is_success:
                    await response.aread()
                    raise status_error(response)
                yield response
            finally:
                await response.aclose()

    async def _text(self, response: httpx2.Response) -> AsyncGenerator[str]:
        try:
            async for piece in response.aiter_text():
                yield piece
        except (httpx2.TransportError, httpx2.TimeoutException) as exc:
            raise transport_error(exc, self.timeout) from None

    async def _events(self, response: httpx2.Response) -> AsyncGenerator[httpx2.ServerSentEvent]:
        try:
            async for event in httpx2.EventSource(response):
                yield event
        except httpx2.SSEError:
            raise UpstreamProtocolError(
                "the upstream answered a streaming request without an event stream. Retry; "
                "if it persists the upstream is misbehaving."
            ) from None
        except (httpx2.TransportError, httpx2.TimeoutException) as exc:
            raise transport_error(exc, self.timeout) from None


_SAFE_SEGMENT: Final = re.compile(r"[A-Za-z0-9._~-]+")


class ScopedClient:
    """One agent's door to the shared pool: every request must stay under the agent's path prefix.

    `prefix` is relative to the backend's base URL (`api/v1/projects/12`, `chat/completions`). A path
    is refused, before anything is sent, when it carries a query or fragment of its own, when any of
    its segments (percent-decoded, as an upstream router or proxy would see it) is empty, `.`, `..` or
    holds anything but unreserved characters, or when it does not start with the prefix. Ids are
    validated long before this; this is the wall that holds if one of those checks is ever missed.
    """

    def __init__(self, client: UpstreamClient, prefix: str, api_key: str | None = None) -> None:
        self._client = client
        self.prefix = prefix.strip("/")
        self._headers: dict[str, str] | None = {"Authorization": f"Bearer {api_key}"} if api_key is not None else None

    @property
    def timeout(self) -> float:
        return self._client.timeout

    def _checked(self, path: str) -> str:
        relative = path.lstrip("/")
        segments = relative.split("/")
        safe = not any(c in path for c in "?#\\") and all(
            _SAFE_SEGMENT.fullmatch(unquote(s)) and unquote(s) not in (".", "..") for s in segments
        )
        if not safe or not (relative == self.prefix or relative.startswith(self.prefix + "/")):
            logger.warning("refused an upstream request outside the agent's prefix %s", self.prefix)
            raise UpstreamPathError(
                "the bridge refused to send a request outside this agent's part of the upstream API. "
                "This is a bug or a malicious id; nothing was sent."
            )
        return relative

    async def get_json(self, path: str, params: Params | None = None) -> Any:
        return await self._client.get_json(self._checked(path), params, self._headers)

    async def post_json(self, path: str, body: Mapping[str, Any], params: Params | None = None) -> Any:
        return await self._client.post_json(self._checked(path), body, params, self._headers)

    def stream_events(
        self, path: str, body: Mapping[str, Any], params: Params | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[httpx2.ServerSentEvent]]:
        return self._client.stream_events(self._checked(path), body, params, self._headers)

    def stream_text(
        self, path: str, body: Mapping[str, Any], params: Params | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        return self._client.stream_text(self._checked(path), body, params, self._headers)


def event_json(event: httpx2.ServerSentEvent) -> dict[str, Any]:
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
