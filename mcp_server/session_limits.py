"""Per-caller limits on what stays open: stateful Streamable HTTP sessions and HTTP+SSE streams.

The SDK caps stateful sessions for the whole process (10,000), so one token could open them all and
lock every other caller out until they idle away. Here each principal (token, passthrough key) may
hold at most `server.max_sessions_per_token` sessions of each kind; one more is refused with 429 and
a sentence that says how to free one. The open no-token mode has a single principal and keeps only
the process-wide cap, `server.max_sessions` of each kind: one more is refused with 503, saying so.
Idle sessions expire after `server.session_idle_seconds` (the SDK's idle timeout for stateful
Streamable HTTP sessions; `sse_transport` for SSE streams).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from mcp_server.auth import OPEN_PRINCIPAL, Identity, Refusal
from mcp_server.telemetry.sessions import SessionClock


def _too_many(identity: Identity, limit: int, what: str, remedy: str) -> Refusal:
    return Refusal(429, f"Token '{identity.name}' already holds {limit} open {what}, the most one token may; {remedy}")


def _full(limit: int, what: str) -> Refusal:
    return Refusal(
        503,
        f"The bridge already holds {limit} open {what}, the most it keeps at once (server.max_sessions); retry "
        "in a minute, once idle ones have expired.",
    )


class FairSessionManager(StreamableHTTPSessionManager):
    """The SDK's session manager with a per-principal cap on stateful sessions."""

    def __init__(self, *, max_per_principal: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_per_principal = max_per_principal
        self.clock = SessionClock("streamable-http")

    @property
    def lifespan_state(self) -> Any:
        """What the server's lifespan yielded (the SDK enters it once, in `run`), for requests that the
        bridge serves without the SDK's transport (`stateless_exchange`)."""
        return self._lifespan_state

    def _held_by(self, principal: str) -> int:
        return sum(1 for owner in self._session_owners.values() if owner["client_id"] == principal)

    def admit(self, identity: Identity) -> None:
        """Refuse (429) a new session for a principal that holds the most it may, (503) any new one
        when the process holds the most in all."""
        if self.max_sessions is not None and len(self._server_instances) >= self.max_sessions:
            raise _full(self.max_sessions, "sessions")
        if identity.principal != OPEN_PRINCIPAL and self._held_by(identity.principal) >= self.max_per_principal:
            raise _too_many(
                identity,
                self.max_per_principal,
                "sessions",
                "end one (DELETE with its Mcp-Session-Id) or wait until an idle one expires.",
            )

    def _admit_session(self, requestor: AuthorizationContext | None) -> StreamableHTTPServerTransport | None:
        # The hard cap, under the SDK's admission lock (`admit` runs before it, for the clear refusal).
        if requestor is not None and self._held_by(requestor["client_id"]) >= self.max_per_principal:
            return None
        transport = super()._admit_session(requestor)
        if transport is not None and transport.mcp_session_id is not None:
            self.clock.opened(transport.mcp_session_id)
        return transport

    async def _discard_session(self, session_id: str, transport: StreamableHTTPServerTransport) -> None:
        self.clock.closed(session_id)
        await super()._discard_session(session_id, transport)


class StreamCounter:
    """Open HTTP+SSE streams per principal, and in all."""

    def __init__(self, max_per_principal: int, max_total: int | None = None) -> None:
        self.max_per_principal = max_per_principal
        self.max_total = max_total
        self._open: Counter[str] = Counter()
        self._total = 0

    def admit(self, identity: Identity) -> None:
        """Count one more open stream for the caller, or refuse it (429; 503 when the bridge is full).
        Each admitted stream is `release`d when it ends."""
        principal = identity.principal
        if self.max_total is not None and self._total >= self.max_total:
            raise _full(self.max_total, "SSE streams")
        if principal != OPEN_PRINCIPAL and self._open[principal] >= self.max_per_principal:
            raise _too_many(identity, self.max_per_principal, "SSE streams", "close one before opening another.")
        self._open[principal] += 1
        self._total += 1

    def release(self, identity: Identity) -> None:
        principal = identity.principal
        self._total -= 1
        self._open[principal] -= 1
        if not self._open[principal]:
            del self._open[principal]
