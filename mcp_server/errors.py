"""Agent Bridge's one error hierarchy.

Every error knows the sentence a user (or the model reading a tool result) should see:
`str(error)` names the cause and the remedy, and never contains a secret.

    BridgeError
    ├── ConfigError                 bad settings file or environment; `agent-bridge` exits 2
    ├── Refusal                     an HTTP request refused before it reaches MCP: `status` is 400 (bad
    │                               request), 401 (no or bad token), 404 (no such agent for this token),
    │                               421/403 (Host/Origin), 429 (per-token cap), 503 (not ready)
    └── CallError                   a tool call or resource read that fails in a way the model can act on
        ├── NotFoundError           a conversation, page or id that does not exist for this caller
        ├── StoreUnavailableError   the shared store (`[store] url`, Valkey/Redis) did not answer; 503
        ├── RateLimitedError        the caller's token is over its rate limit; carries `retry_after`
        └── UpstreamError           the agent's REST API did not give a usable answer
            ├── UpstreamAuthError       401/403: the upstream key is wrong or lacks access
            ├── UpstreamNotFoundError   404: the project, conversation or citation does not exist
            ├── UpstreamRateLimitError  429: out of credits or throttled; carries `retry_after`
            ├── UpstreamServerError     5xx: the upstream failed; retrying later may help
            ├── UpstreamTimeoutError    no answer before the deadline
            ├── UpstreamConnectionError the connection failed or dropped mid-response
            ├── UpstreamProtocolError   a body that is not what the API promises (malformed JSON, cut stream)
            ├── UpstreamPathError       a request that would leave the agent's part of the upstream API (never sent)
            ├── UpstreamBusyError       too many requests already waiting for this backend (never sent)
            └── CircuitOpenError        the backend failed repeatedly; not tried until `retry_after` (never sent)
"""

from __future__ import annotations


class BridgeError(Exception):
    """Root of every error Agent Bridge raises on purpose."""


class ConfigError(BridgeError):
    """The configuration cannot be used; the message names the key path and the fix."""


class Refusal(BridgeError):
    """An HTTP-level refusal with the status to answer and the sentence a client should show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class CallError(BridgeError):
    """A call failed; `for_agent` is the sentence a model reads. `status` mirrors HTTP where one fits."""

    def __init__(self, message: str, *, agent: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.agent = agent
        self.status = status

    def for_agent(self, agent: str) -> str:
        """The sentence a model reads: which agent failed, why, and what to do."""
        return f"Agent '{agent}': {self}"


class NotFoundError(CallError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=404)


class StoreUnavailableError(CallError):
    """The shared store (`[store] url`) did not answer: the calls that need it fail with this sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=503)


class RateLimitedError(CallError):
    """The caller's token used up its rate limit (`[[tokens]] rate_limit`); nothing was sent upstream."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class UpstreamError(CallError):
    """The agent's REST API failed."""


class UpstreamAuthError(UpstreamError):
    pass


class UpstreamNotFoundError(UpstreamError):
    pass


class UpstreamRateLimitError(UpstreamError):
    def __init__(
        self, message: str, *, agent: str = "", status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, agent=agent, status=status)
        self.retry_after = retry_after


class UpstreamServerError(UpstreamError):
    pass


class UpstreamTimeoutError(UpstreamError):
    pass


class UpstreamConnectionError(UpstreamError):
    pass


class UpstreamProtocolError(UpstreamError):
    pass


class UpstreamPathError(UpstreamError):
    """A request path outside the agent's prefix was refused before anything was sent."""


class UpstreamBusyError(UpstreamError):
    """Every upstream slot of the backend stayed taken for the queue timeout; nothing was sent."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, status=503)
        self.retry_after = retry_after


class CircuitOpenError(UpstreamError):
    """The backend's circuit breaker is open after repeated failures; nothing was sent."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, status=503)
        self.retry_after = retry_after
