"""What an upstream answered, as the bridge reads it: an `Answer` (status, body, Retry-After), its
JSON, and the `UpstreamError` a model reads for a refusal or a failed exchange, with the upstream's own
explanation reduced to one short line that can carry no credential (`sanitised`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, cast

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
from mcp_server.lazy_imports import aiohttp


@dataclass(frozen=True, slots=True)
class Answer:
    """An upstream's whole answer, read: what the JSON decoding and `status_error` look at."""

    status: int
    body: bytes = b""
    retry_after: str | None = None  # the Retry-After header as sent

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _upstream_message(answer: Answer) -> str:
    """The upstream's own explanation from a CustomGPT envelope or an OpenAI error body, if any."""
    try:
        body: Any = json.loads(answer.body)
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


def retry_after(answer: Answer) -> float | None:
    raw = answer.retry_after
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def status_error(answer: Answer) -> UpstreamError:
    """Map a non-2xx upstream answer to the error a model should read."""
    status = answer.status
    said = sanitised(_upstream_message(answer))
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
        wait = retry_after(answer)
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


def failure_name(exc: BaseException) -> str:
    """The kind of connection failure, in the words operators know from the bridge's earlier messages."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "ConnectError"  # refused, unreachable, DNS or TLS: nothing was sent
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return "RemoteProtocolError"  # closed without (a whole) answer, or an answer that is not HTTP
    if isinstance(exc, aiohttp.ClientOSError):
        return "ReadError"  # reset while the request was out
    return type(exc).__name__


def transport_error(exc: BaseException, timeout: float) -> UpstreamError:
    """Map a failed exchange (an aiohttp error, or TimeoutError) to the error a model should read."""
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError(
            f"the upstream did not answer within {timeout:g} seconds. It may be overloaded; retry, "
            "or raise the backend's timeout_seconds."
        )
    return UpstreamConnectionError(
        f"the connection to the upstream failed ({failure_name(exc)}). Check that the backend's base_url is "
        "reachable; retrying usually helps."
    )


def decoded_json(answer: Answer) -> Any:
    try:
        return json.loads(answer.body)
    except (ValueError, UnicodeDecodeError):
        raise UpstreamProtocolError(
            f"the upstream sent a body that is not valid JSON (HTTP {answer.status}). "
            "Retry; if it persists the upstream is misbehaving."
        ) from None
