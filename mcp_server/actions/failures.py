"""Failures as the Actions facade answers them: JSON `{"error": "<code>", "message": "<sentence>"}`
with an HTTP status a tool runner understands. An upstream's failure is a 429/502/503/504, never a 500
(ChatGPT backs off from an Action that answers 500s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse

from mcp_server.errors import (
    CallError,
    CircuitOpenError,
    NotFoundError,
    RateLimitedError,
    Refusal,
    StoreUnavailableError,
    UpstreamAuthError,
    UpstreamBusyError,
    UpstreamConnectionError,
    UpstreamNotFoundError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
)

DEFAULT_RETRY_AFTER_SECONDS: Final = 30
STORE_RETRY_AFTER_SECONDS: Final = 5
# What a bug of ours answers (the route guard's 500, a failed `ask` task's 502); the operator gets the traceback.
INTERNAL: Final = "The bridge failed while handling this call (an internal error, logged for the operator). Retry."

_CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    421: "misdirected_request",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    502: "upstream_error",
    503: "unavailable",
    504: "upstream_timeout",
}


class ErrorOut(BaseModel):
    error: str
    message: str


@dataclass(eq=False)
class Failure(Exception):
    """A failed call as the client will see it (plain data, so an answer store can keep it); raised by
    the handlers and answered by the route wrapper."""

    status: int
    message: str
    error: str = ""
    retry_after: float | None = None

    @property
    def code(self) -> str:
        return self.error or _CODES.get(self.status, "error")

    def response(self) -> JSONResponse:
        headers: dict[str, str] = {}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="agent-bridge"'
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(self.retry_after)))
        body = ErrorOut(error=self.code, message=self.message).model_dump()
        return JSONResponse(body, status_code=self.status, headers=headers)


def refused(refusal: Refusal) -> Failure:
    return Failure(refusal.status, str(refusal))


def call_failed(exc: CallError, agent: str) -> Failure:
    """The status an upstream (or bridge-side) call failure answers with."""
    message = exc.for_agent(agent)
    if isinstance(exc, RateLimitedError):
        return Failure(429, message, "rate_limited", retry_after=exc.retry_after)
    if isinstance(exc, CircuitOpenError | UpstreamBusyError):
        return Failure(503, message, "upstream_unavailable", retry_after=exc.retry_after)
    if isinstance(exc, UpstreamRateLimitError):
        wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER_SECONDS
        return Failure(429, message, "upstream_rate_limited", retry_after=wait)
    if isinstance(exc, UpstreamTimeoutError):
        return Failure(504, message, "upstream_timeout")
    if isinstance(exc, StoreUnavailableError):
        return Failure(503, message, "store_unavailable", retry_after=STORE_RETRY_AFTER_SECONDS)
    if isinstance(exc, UpstreamConnectionError):
        return Failure(503, message, "upstream_unavailable")
    if isinstance(exc, UpstreamServerError):
        return Failure(503 if exc.status == 503 else 502, message, "upstream_error")
    if isinstance(exc, UpstreamAuthError):  # the bridge's upstream key, not the caller's token
        return Failure(502, message, "upstream_auth")
    if isinstance(exc, NotFoundError | UpstreamNotFoundError):
        return Failure(404, message, "not_found")
    return Failure(502, message, "upstream_error")


def store_failed(exc: StoreUnavailableError) -> Failure:
    """A call that needs the shared store (answers in progress) while it does not answer."""
    text = str(exc)
    return Failure(503, text[:1].upper() + text[1:], "store_unavailable", retry_after=STORE_RETRY_AFTER_SECONDS)


def deadline_passed(agent: str, seconds: float) -> Failure:
    return Failure(
        504,
        f"Agent '{agent}': no complete answer within {seconds:g} seconds. Ask a narrower question or retry later.",
        "upstream_timeout",
    )


def invalid_input(exc: ValidationError, where: str) -> Failure:
    """422 naming each field and what is wrong with it (the value itself is never echoed)."""
    problems: list[str] = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or where
        msg = "unknown field" if err["type"] == "extra_forbidden" else str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{field}: {msg}")
    return Failure(422, f"Invalid {where}: " + "; ".join(problems) + ". Fix it and call again.")
