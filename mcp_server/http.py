"""The shared upstream HTTP client: one connection pool per backend, timeouts, safe retries, SSE.

Failures become `UpstreamError`s whose message names the cause and the remedy. Two rules:

* Pooled connections expire after 4 s, before the 5 s keep-alive of common upstream servers
  (uvicorn, nginx defaults): reusing a half-closed connection fails with a read error.
* A request that may have reached the upstream is retried only when it is idempotent (GET). A
  POST (a CustomGPT message costs a query credit) is retried only when it never left: the
  connection could not be opened.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, cast

import anyio
import httpx2

from mcp_server import __version__
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

logger = logging.getLogger(__name__)

KEEPALIVE_EXPIRY_SECONDS: Final = 4.0
GET_ATTEMPTS: Final = 3
RETRY_BACKOFF_SECONDS: Final = 0.2
RETRYABLE_STATUS: Final = frozenset({502, 503, 504})
_NEVER_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)

Params = Mapping[str, str | int | float | bool]


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
    said = _upstream_message(response)
    detail = f"HTTP {status}" + (f": {said}" if said else "")
    if status in (401, 403):
        return UpstreamAuthError(
            f"the upstream refused the API key ({detail}). Check the backend's api_key "
            "(or CUSTOMGPT_API_KEY) and that the key can use this project.",
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
    """One pooled httpx2 client bound to a base URL and an upstream key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_connections: int = 100,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self._client = httpx2.AsyncClient(
            base_url=base_url,
            headers={
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

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_json(self, path: str, params: Params | None = None) -> Any:
        for attempt in range(1, GET_ATTEMPTS + 1):
            try:
                response = await self._client.get(path, params=params)
            except (httpx2.TransportError, httpx2.TimeoutException) as exc:
                if attempt < GET_ATTEMPTS and not isinstance(exc, httpx2.TimeoutException | httpx2.PoolTimeout):
                    logger.debug("GET %s failed with %s; retrying", path, type(exc).__name__)
                    await anyio.sleep(RETRY_BACKOFF_SECONDS * attempt)
                    continue
                raise transport_error(exc, self.timeout) from None
            if response.status_code in RETRYABLE_STATUS and attempt < GET_ATTEMPTS:
                await anyio.sleep(min(_retry_after(response) or 0.0, 2.0) + RETRY_BACKOFF_SECONDS * attempt)
                continue
            if response.is_success:
                return _json(response)
            raise status_error(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def post_json(self, path: str, body: Mapping[str, Any], params: Params | None = None) -> Any:
        response = await self._send_once("POST", path, body, params)
        if response.is_success:
            return _json(response)
        raise status_error(response)

    async def _send_once(
        self, method: str, path: str, body: Mapping[str, Any], params: Params | None
    ) -> httpx2.Response:
        for attempt in (1, 2):
            try:
                return await self._client.request(method, path, json=dict(body), params=params)
            except _NEVER_SENT as exc:
                if attempt == 1 and not isinstance(exc, httpx2.PoolTimeout):
                    continue
                raise transport_error(exc, self.timeout) from None
            except (httpx2.TransportError, httpx2.TimeoutException) as exc:
                raise transport_error(exc, self.timeout) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def stream_events(
        self, path: str, body: Mapping[str, Any], params: Params | None = None
    ) -> AsyncGenerator[AsyncIterator[httpx2.ServerSentEvent]]:
        """POST and read the response as server-sent events. Leaving the block closes the connection."""
        request = self._client.build_request(
            "POST", path, json=dict(body), params=params, headers={"Accept": "text/event-stream"}
        )
        try:
            response = await self._client.send(request, stream=True)
        except (httpx2.TransportError, httpx2.TimeoutException) as exc:
            raise transport_error(exc, self.timeout) from None
        try:
            if not response.is_success:
                await response.aread()
                raise status_error(response)
            yield self._events(response)
        finally:
            await response.aclose()

    async def _events(self, response: httpx2.Response) -> AsyncIterator[httpx2.ServerSentEvent]:
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
