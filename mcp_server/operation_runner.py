"""Runs the MCP face's operations for one caller: arguments checked, the rate limit and the call
deadline applied, an audit line written, and every failure a model can act on turned into the one
sentence it reads (a tool result with `isError: true`) or the JSON-RPC error a protocol mistake gets."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from pydantic import ValidationError

from mcp_server.agents import Agent, AgentView
from mcp_server.audit import OK, AuditLog, Outcome, answer_of, outcome_of, question_of
from mcp_server.conversations import ConversationSeal
from mcp_server.errors import CallError
from mcp_server.mcp_definitions import prompt_result, resource_link
from mcp_server.operations import RESOURCES, Call, ToolOperation
from mcp_server.operations.completion import NOTHING, Completer, Completion, Lookup
from mcp_server.operations.connector import AgentCall, ConnectorOperation, Shelf, encoded
from mcp_server.operations.prompts import PromptOperation
from mcp_server.page_fetcher import PageFetcher
from mcp_server.progress import ProgressRelay
from mcp_server.protection import RateLimiter
from mcp_server.research_cache import DocumentCache
from mcp_server.source_catalog import SourceCatalog
from mcp_server.telemetry.mcp_metrics import note_operation

logger = logging.getLogger(__name__)

RESOURCE_NOT_FOUND: Final = -32002  # through 2025-11-25; 2026-07-28 answers -32602 (SEP-2164)
MAX_ECHOED_URI: Final = 2048
_RESOURCE_URI: Final = re.compile(
    r"agent://(?P<agent>[a-z0-9-]{1,48})/(?:" + "|".join(f"(?P<r{i}>{r.path})" for i, r in enumerate(RESOURCES)) + ")"
)
_OPERATION_GROUP: Final = re.compile(r"r[0-9]+")  # the regex groups that say which resource matched
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CallSettings:
    deadline_seconds: float = 300.0
    keepalive_seconds: float = 10.0


def _error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def _argument_problem(tool: str, exc: ValidationError) -> str:
    problems: list[str] = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        msg = "unknown argument" if err["type"] == "extra_forbidden" else str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {msg}")
    return f"Invalid arguments for '{tool}': " + "; ".join(problems) + ". Fix them and call again."


class Runner:
    """Runs operations under the call deadline; failures become the sentence a model reads."""

    def __init__(
        self,
        settings: CallSettings,
        seal: ConversationSeal,
        limiter: RateLimiter | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.settings = settings
        self.seal = seal
        self.limiter = limiter
        self.audit = audit
        self.shelf = Shelf(DocumentCache(), PageFetcher())
        self.catalog = SourceCatalog()

    def call_for(self, view: AgentView, agent: Agent) -> Call:
        return Call(agent.name, agent.backend, view.principal, self.seal, reveals_config=view.scope.reveals_config)

    async def admit(self, view: AgentView) -> None:
        """Count the call against the caller's rate limit (`RateLimitedError` when over it)."""
        if self.limiter is not None:
            await self.limiter.check(view.principal, view.scope.label)

    async def within_deadline(self, work: Callable[[], Awaitable[T]]) -> T:
        with anyio.fail_after(self.settings.deadline_seconds):
            return await work()

    @contextmanager
    def audited(self, view: AgentView, agent: str, tool: str, question: str | None = None) -> Generator[None]:
        """One audit line for the block: `ok`, or the kind of error it raised; none when it is cancelled
        (as for tool calls). The block is the work itself, before its errors become protocol errors."""
        started = time.monotonic()

        def record(outcome: Outcome) -> None:
            if self.audit is not None:
                seconds = time.monotonic() - started
                self.audit.record(
                    token=view.scope.label, agent=agent, tool=tool, outcome=outcome, seconds=seconds, question=question
                )

        try:
            yield
        except Exception as exc:
            record(outcome_of(exc))
            raise
        record(OK)

    def deadline_sentence(self, agent: str) -> str:
        return (
            f"Agent '{agent}': no complete answer within the {self.settings.deadline_seconds:g} second call "
            "deadline. Ask a narrower question, retry later, or raise server.call_deadline_seconds."
        )

    async def call_tool(
        self,
        ctx: ServerRequestContext[Any, Any],
        view: AgentView,
        agent: Agent,
        op: ToolOperation[Any, Any],
        name: str,
        arguments: dict[str, Any],
    ) -> types.CallToolResult:
        note_operation(op.name, agent.name)
        try:
            args = op.args.model_validate(arguments)
        except ValidationError as exc:
            return _error_result(_argument_problem(name, exc))
        call = self.call_for(view, agent)
        started = time.monotonic()
        result, outcome, answer = await self._run_tool(ctx, view, agent, op, name, call, args)
        if self.audit is not None:
            self.audit.record(
                token=view.scope.label,
                agent=agent.name,
                tool=op.name,
                outcome=outcome,
                seconds=time.monotonic() - started,
                question=question_of(args),
                answer=answer,
            )
        return result

    async def _run_tool(
        self,
        ctx: ServerRequestContext[Any, Any],
        view: AgentView,
        agent: Agent,
        op: ToolOperation[Any, Any],
        name: str,
        call: Call,
        args: Any,
    ) -> tuple[types.CallToolResult, Outcome, str | None]:
        """The call's result, its outcome for the audit line, and the answer text it carries (if any)."""
        try:
            await self.admit(view)
            if op.streams and progress_token_from_params(ctx.params) is not None:
                relay = ProgressRelay(ctx.session.report_progress, keepalive=self.settings.keepalive_seconds)
                result = await self.within_deadline(
                    lambda: relay.run(lambda on_delta: op.run(replace(call, on_delta=on_delta), args))
                )
            else:
                result = await self.within_deadline(lambda: op.run(call, args))
        except TimeoutError as exc:
            return _error_result(self.deadline_sentence(agent.name)), outcome_of(exc), None
        except CallError as exc:
            logger.info("tool %s failed: %s", name, type(exc).__name__)
            return _error_result(exc.for_agent(agent.name)), outcome_of(exc), None
        except Exception as exc:  # a bug of ours: the model reads one sentence, the operator the traceback
            logger.exception("tool %s failed inside the bridge", name)
            return (
                _error_result(
                    f"Agent '{agent.name}': the bridge failed while handling this call (an internal error, logged "
                    "for the operator). Retry; if it persists, tell the operator."
                ),
                outcome_of(exc),
                None,
            )
        links = [resource_link(link) for link in op.links(agent.name, result)] if op.links else []
        return (
            types.CallToolResult(
                content=[types.TextContent(text=op.render(result)), *links],
                structured_content=result.model_dump(mode="json"),
            ),
            OK,
            answer_of(result),
        )

    async def call_connector(
        self, view: AgentView, op: ConnectorOperation, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        note_operation(op.name, "")
        try:
            args = op.args.model_validate(arguments)
        except ValidationError as exc:
            return _error_result(_argument_problem(op.name, exc))
        agents = [
            AgentCall(self.call_for(view, a), a.title, a.page_hosts) for a in view.agents if view.allows(a, "ask")
        ]
        started = time.monotonic()
        result, outcome = await self._run_connector(view, op, agents, args)
        if self.audit is not None:
            self.audit.record(
                token=view.scope.label,
                agent=",".join(a.call.agent for a in agents),
                tool=op.name,
                outcome=outcome,
                seconds=time.monotonic() - started,
                question=question_of(args),
            )
        return result

    async def _run_connector(
        self, view: AgentView, op: ConnectorOperation, agents: list[AgentCall], args: Any
    ) -> tuple[types.CallToolResult, Outcome]:
        try:
            await self.admit(view)
            value = await self.within_deadline(lambda: op.run(agents, args, self.shelf))
        except TimeoutError as exc:
            return _error_result(self.deadline_sentence(", ".join(a.call.agent for a in agents))), outcome_of(exc)
        except CallError as exc:
            logger.info("connector %s failed: %s", op.name, type(exc).__name__)
            return _error_result(str(exc)), outcome_of(exc)
        except Exception as exc:
            logger.exception("connector %s failed inside the bridge", op.name)
            return (
                _error_result("The bridge failed while handling this call (an internal error, logged). Retry."),
                outcome_of(exc),
            )
        return types.CallToolResult(content=[types.TextContent(text=encoded(value))]), OK

    def lookup(self, view: AgentView, agent: Agent) -> Lookup:
        return Lookup(self.call_for(view, agent), agent.title, self.catalog)

    async def get_prompt(
        self, view: AgentView, agent: Agent, op: PromptOperation, name: str, arguments: dict[str, str]
    ) -> types.GetPromptResult:
        try:
            args = op.args.model_validate(arguments)
        except ValidationError as exc:
            raise MCPError(types.INVALID_PARAMS, _argument_problem(name, exc)) from None
        try:  # `tool` says prompt: it is not the ask tool (the ask prompt spends an upstream query too)
            with self.audited(view, agent.name, f"prompt:{op.name}", question_of(args)):
                await self.admit(view)  # ... so it counts against the same rate limit
                out = await self.within_deadline(lambda: op.get(self.lookup(view, agent), args))
        except TimeoutError:
            raise MCPError(types.INTERNAL_ERROR, self.deadline_sentence(agent.name)) from None
        except CallError as exc:
            code = types.INVALID_PARAMS if exc.status == 404 else types.INTERNAL_ERROR
            raise MCPError(code, exc.for_agent(agent.name)) from None
        return prompt_result(out)

    async def complete(self, view: AgentView, agent: Agent, completer: Completer, typed: str) -> Completion:
        """What `completer` offers for `typed`; nothing when the agent's listing cannot be read (typing goes on)."""
        try:
            return await self.within_deadline(lambda: completer(self.lookup(view, agent), typed))
        except (TimeoutError, CallError) as exc:
            logger.info("completion for agent %s found nothing: %s", agent.name, type(exc).__name__)
            return NOTHING

    async def read_resource(
        self, view: AgentView, uri: str, not_found: int = RESOURCE_NOT_FOUND
    ) -> types.ReadResourceResult:
        match = _RESOURCE_URI.fullmatch(uri)
        agent = view.agent(match["agent"]) if match else None
        op = next((r for i, r in enumerate(RESOURCES) if match and match[f"r{i}"] is not None), None)
        if match is None or agent is None or op is None or not view.offers(agent, op):
            raise _resource_not_found(uri, not_found)
        note_operation(op.name, agent.name)
        variables = {k: v for k, v in match.groupdict().items() if v is not None and not _OPERATION_GROUP.fullmatch(k)}
        try:
            with self.audited(view, agent.name, op.name):
                await self.admit(view)
                value = await self.within_deadline(lambda: op.read(self.call_for(view, agent), variables))
        except TimeoutError:
            raise MCPError(types.INTERNAL_ERROR, self.deadline_sentence(agent.name)) from None
        except CallError as exc:
            if exc.status == 404:
                raise MCPError(not_found, exc.for_agent(agent.name), {"uri": uri}) from None
            raise MCPError(types.INTERNAL_ERROR, exc.for_agent(agent.name)) from None
        text = json.dumps(value, indent=2)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )


def _resource_not_found(uri: str, code: int) -> MCPError:
    # The URI is echoed only once it is known to be one of ours; anything else could carry any text.
    shown = uri if _RESOURCE_URI.fullmatch(uri) else "this URI"
    # The client's own URI goes back to it in `data.uri` (SEP-2164), bounded in size.
    data = {"uri": uri} if len(uri) <= MAX_ECHOED_URI else None
    return MCPError(code, f"Resource not found: {shown}. List resources and templates for valid URIs.", data)
