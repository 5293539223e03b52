"""Times every MCP request at the SDK's own seam (its server middleware) and labels it.

The middleware knows the method and the transport; the tool operation and the agent are known only
once `mcp_face` has resolved the caller's view, so `mcp_face` notes them with `note_operation` on a
small record the middleware put in the request's context. One record, one histogram observation and
one ring-buffer increment per request.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any, Final, cast

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolResult

from mcp_server.telemetry.metrics import OPERATION_DURATION
from mcp_server.telemetry.recent import RECENT_CALLS

# The methods of the MCP spec; anything else a client sends is counted as `other`.
KNOWN_METHODS: Final = frozenset(
    {
        "initialize",
        "ping",
        "server/discover",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
        "subscriptions/listen",
    }
)


class _Operation:
    __slots__ = ("agent", "tool")

    def __init__(self) -> None:
        self.tool = ""
        self.agent = ""


_CURRENT: Final[ContextVar[_Operation | None]] = ContextVar("agent_bridge_mcp_operation", default=None)


def note_operation(tool: str, agent: str) -> None:
    """Label the request being timed with its tool operation (`ask`, ...) and agent name."""
    operation = _CURRENT.get()
    if operation is not None:
        operation.tool, operation.agent = tool, agent


def transport_of(ctx: ServerRequestContext[Any, Any]) -> str:
    """`stdio` without an HTTP request; `sse` for an HTTP+SSE message POST; else `streamable-http`."""
    scope: Any = getattr(ctx.request, "scope", None)
    if not isinstance(scope, dict):
        return "stdio"
    path: Any = cast(dict[str, Any], scope).get("path", "")
    return "sse" if isinstance(path, str) and path.endswith("/messages/") else "streamable-http"


def _is_tool_error(result: HandlerResult) -> bool:
    match result:
        case CallToolResult(is_error=True) | {"isError": True}:
            return True
        case _:
            return False


class OperationMetrics:
    """A `ServerMiddleware`: one `mcp_server_operation_duration_seconds` sample per request."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:  # a notification is not an operation
            return await call_next(ctx)
        operation = _Operation()
        token = _CURRENT.set(operation)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call_next(ctx)
            outcome = "tool_error" if _is_tool_error(result) else "ok"
            return result
        except Exception:  # a JSON-RPC error (or a bug): the outcome stays "error"
            raise
        except BaseException:  # the client cancelled, or the server is stopping
            outcome = "cancelled"
            raise
        finally:
            _CURRENT.reset(token)
            method = ctx.method if ctx.method in KNOWN_METHODS else "other"
            OPERATION_DURATION.labels(method, operation.tool, operation.agent, outcome, transport_of(ctx)).observe(
                time.perf_counter() - started
            )
            if method in ("tools/call", "resources/read"):
                RECENT_CALLS.record(failed=outcome != "ok")
