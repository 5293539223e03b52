"""The MCP face: tools and resources generated from the operations registry, for every transport.

One low-level `Server` serves stdio, Streamable HTTP and HTTP+SSE. Which agents a request sees is
decided per request by a `ViewResolver` (stdio: all of them; HTTP: those of the endpoint and the
caller's token), so the tool list is computed from the caller's view rather than registered once.

Failures a model can act on (upstream 401/404/429/5xx, timeouts, bad arguments, a conversation that
is not the caller's) come back as tool results with `isError: true` and one sentence naming the
agent, the cause and the remedy. Protocol mistakes (an unknown tool, a resource that does not exist)
stay JSON-RPC errors. Tool calls and resource reads run under the same deadline.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from pydantic import ValidationError

from mcp_server import __version__
from mcp_server.agents import Agent, AgentView
from mcp_server.audit import AuditLog
from mcp_server.conversations import ConversationSeal
from mcp_server.errors import CallError
from mcp_server.operations import RESOURCES, TOOLS, Call, ResourceOperation, ToolOperation
from mcp_server.operations.connector import CONNECTOR_TOOLS, AgentCall, ConnectorOperation, Shelf, encoded
from mcp_server.page_fetcher import PageFetcher
from mcp_server.progress import ProgressRelay
from mcp_server.protection import RateLimiter
from mcp_server.research_cache import DocumentCache

logger = logging.getLogger(__name__)

RESOURCE_NOT_FOUND: Final = -32002
_RESOURCE_URI: Final = re.compile(
    r"agent://(?P<agent>[a-z0-9-]{1,48})/(?:" + "|".join(f"(?P<r{i}>{r.path})" for i, r in enumerate(RESOURCES)) + ")"
)
_OPERATION_GROUP: Final = re.compile(r"r[0-9]+")  # the regex groups that say which resource matched
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CallSettings:
    deadline_seconds: float = 300.0
    keepalive_seconds: float = 10.0


ViewResolver = Callable[[ServerRequestContext[Any, Any]], AgentView]


def _error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def _argument_problem(tool: str, exc: ValidationError) -> str:
    problems: list[str] = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        msg = "unknown argument" if err["type"] == "extra_forbidden" else str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {msg}")
    return f"Invalid arguments for '{tool}': " + "; ".join(problems) + ". Fix them and call again."


def tool_definition(name: str, op: ToolOperation[Any, Any], agent: Agent) -> types.Tool:
    return _tool_definition(name, op.name, agent.title, agent.description)


# Tool definitions are built once per (name, operation, agent title, agent description): they do not change
# while the configuration lives, and building them (pydantic JSON schemas above all) was a quarter of the
# CPU of a call at 2026-07-28, where the SDK looks the tool's input schema up on every `tools/call`.
@functools.lru_cache(maxsize=4096)
def _tool_definition(name: str, operation: str, agent_title: str, agent_description: str) -> types.Tool:
    op = TOOLS[operation]
    title = op.titled(agent_title)
    return types.Tool(
        name=name,
        title=title,
        description=op.described(agent_description),
        input_schema=_input_schema(operation),
        output_schema=_output_schema(operation),
        annotations=types.ToolAnnotations(
            title=title,
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=op.idempotent,
            open_world_hint=True,
        ),
    )


@functools.cache
def _input_schema(operation: str) -> dict[str, Any]:
    return TOOLS[operation].args.model_json_schema()


@functools.cache
def _output_schema(operation: str) -> dict[str, Any]:
    return TOOLS[operation].result.model_json_schema()


def input_schema_for(tool_name: str) -> dict[str, Any] | None:
    """The input schema of a tool by its name alone (`ask`, `support_ask`), for the SDK's check of a
    2026-07-28 `tools/call` (its `Mcp-Param-*` headers) without listing the caller's tools on every call.
    The schema depends on the operation only; whether the caller may use the tool is decided by the call."""
    for operation in TOOLS:
        if tool_name == operation or tool_name.endswith("_" + operation):
            return _input_schema(operation)
    return None


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

    def call_for(self, view: AgentView, agent: Agent) -> Call:
        return Call(agent.name, agent.backend, view.principal, self.seal, reveals_config=view.scope.reveals_config)

    async def admit(self, view: AgentView) -> None:
        """Count the call against the caller's rate limit (`RateLimitedError` when over it)."""
        if self.limiter is not None:
            await self.limiter.check(view.principal, view.scope.label)

    async def within_deadline(self, work: Callable[[], Awaitable[T]]) -> T:
        with anyio.fail_after(self.settings.deadline_seconds):
            return await work()

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
        try:
            args = op.args.model_validate(arguments)
        except ValidationError as exc:
            return _error_result(_argument_problem(name, exc))
        call = self.call_for(view, agent)
        started = time.monotonic()
        result, (outcome, status) = await self._run_tool(ctx, view, agent, op, name, call, args)
        if self.audit is not None:
            self.audit.record(
                token=view.scope.label,
                agent=agent.name,
                tool=op.name,
                outcome=outcome,
                seconds=time.monotonic() - started,
                upstream_status=status,
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
    ) -> tuple[types.CallToolResult, tuple[str, int | None]]:
        """The call's result, and its outcome for the audit line (an error class name) and upstream status."""
        try:
            await self.admit(view)
            if op.streams and progress_token_from_params(ctx.params) is not None:
                relay = ProgressRelay(ctx.session.report_progress, keepalive=self.settings.keepalive_seconds)
                result = await self.within_deadline(
                    lambda: relay.run(lambda on_delta: op.run(replace(call, on_delta=on_delta), args))
                )
            else:
                result = await self.within_deadline(lambda: op.run(call, args))
        except TimeoutError:
            return _error_result(self.deadline_sentence(agent.name)), ("deadline", None)
        except CallError as exc:
            logger.info("tool %s failed: %s", name, type(exc).__name__)
            return _error_result(exc.for_agent(agent.name)), (type(exc).__name__, exc.status)
        except Exception:  # a bug of ours: the model reads one sentence, the operator the traceback
            logger.exception("tool %s failed inside the bridge", name)
            return _error_result(
                f"Agent '{agent.name}': the bridge failed while handling this call (an internal error, logged "
                "for the operator). Retry; if it persists, tell the operator."
            ), ("internal_error", None)
        return types.CallToolResult(
            content=[types.TextContent(text=op.render(result))], structured_content=result.model_dump(mode="json")
        ), ("ok", None)

    async def call_connector(
        self, view: AgentView, op: ConnectorOperation, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        try:
            args = op.args.model_validate(arguments)
        except ValidationError as exc:
            return _error_result(_argument_problem(op.name, exc))
        agents = [
            AgentCall(self.call_for(view, a), a.title, a.page_hosts) for a in view.agents if view.allows(a, "ask")
        ]
        try:
            await self.admit(view)
            value = await self.within_deadline(lambda: op.run(agents, args, self.shelf))
        except TimeoutError:
            return _error_result(self.deadline_sentence(", ".join(a.call.agent for a in agents)))
        except CallError as exc:
            logger.info("connector %s failed: %s", op.name, type(exc).__name__)
            return _error_result(str(exc))
        except Exception:
            logger.exception("connector %s failed inside the bridge", op.name)
            return _error_result("The bridge failed while handling this call (an internal error, logged). Retry.")
        return types.CallToolResult(content=[types.TextContent(text=encoded(value))])

    async def read_resource(self, view: AgentView, uri: str) -> types.ReadResourceResult:
        match = _RESOURCE_URI.fullmatch(uri)
        agent = view.agent(match["agent"]) if match else None
        op = next((r for i, r in enumerate(RESOURCES) if match and match[f"r{i}"] is not None), None)
        if match is None or agent is None or op is None or not view.offers(agent, op):
            raise _resource_not_found(uri)
        variables = {k: v for k, v in match.groupdict().items() if v is not None and not _OPERATION_GROUP.fullmatch(k)}
        try:
            await self.admit(view)
            value = await self.within_deadline(lambda: op.read(self.call_for(view, agent), variables))
        except TimeoutError:
            raise MCPError(types.INTERNAL_ERROR, self.deadline_sentence(agent.name)) from None
        except CallError as exc:
            code = RESOURCE_NOT_FOUND if exc.status == 404 else types.INTERNAL_ERROR
            raise MCPError(code, exc.for_agent(agent.name)) from None
        text = json.dumps(value, indent=2)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )


def _resource_not_found(uri: str) -> MCPError:
    # The URI is echoed only once it is known to be one of ours; anything else could carry any text.
    shown = uri if _RESOURCE_URI.fullmatch(uri) else "this URI"
    return MCPError(RESOURCE_NOT_FOUND, f"Resource not found: {shown}. List resources and templates for valid URIs.")


def _resource(agent: Agent, op: ResourceOperation) -> types.Resource:
    return types.Resource(
        uri=op.template.replace("{agent}", agent.name).split("{")[0],
        name=f"{agent.name}-{op.name}",
        title=f"{agent.title}: {op.title}",
        mime_type="application/json",
    )


def connector_definition(op: ConnectorOperation, view: AgentView) -> types.Tool:
    agents = [a for a in view.agents if view.allows(a, "ask")]
    named = ", ".join(f"'{a.title}'" for a in agents)
    what = f"the knowledge base {named}" if len(agents) == 1 else f"the knowledge bases {named}"
    return types.Tool(
        name=op.name,
        title=op.title,
        description=op.description.format(agents=what),
        input_schema=op.args.model_json_schema(),
        annotations=types.ToolAnnotations(
            title=op.title, read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )


def _connector_offered(view: AgentView) -> bool:
    return any(view.allows(a, "ask") for a in view.agents)


def build_server(
    resolve_view: ViewResolver,
    seal: ConversationSeal,
    settings: CallSettings | None = None,
    limiter: RateLimiter | None = None,
    audit: AuditLog | None = None,
) -> Server[Any]:
    runner = Runner(settings or CallSettings(), seal, limiter, audit)

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        view = resolve_view(ctx)
        if view.face == "chatgpt":
            offered = _connector_offered(view)
            return types.ListToolsResult(
                tools=[connector_definition(op, view) for op in CONNECTOR_TOOLS.values()] if offered else []
            )
        return types.ListToolsResult(
            tools=[tool_definition(name, TOOLS[tool], agent) for name, agent, tool in view.tools()]
        )

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        view = resolve_view(ctx)
        if view.face == "chatgpt":
            connector = CONNECTOR_TOOLS.get(params.name) if _connector_offered(view) else None
            if connector is None:
                raise MCPError(types.INVALID_PARAMS, f"Unknown tool: '{params.name}'. Available tools: search, fetch.")
            return await runner.call_connector(view, connector, dict(params.arguments or {}))
        found = view.find_tool(params.name)
        if found is None:
            available = ", ".join(n for n, _, _ in view.tools()) or "none"
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: '{params.name}'. Available tools: {available}.")
        agent, tool = found
        return await runner.call_tool(ctx, view, agent, TOOLS[tool], params.name, dict(params.arguments or {}))

    async def list_resources(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        view = resolve_view(ctx)
        return types.ListResourcesResult(
            resources=[
                _resource(agent, op)
                for agent in view.agents
                for op in RESOURCES
                if op.listed and view.offers(agent, op)
            ]
        )

    async def list_templates(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        view = resolve_view(ctx)
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=op.template, name=op.name, description=op.description, mime_type="application/json"
                )
                for op in RESOURCES
                if any(view.offers(agent, op) for agent in view.agents)
            ]
        )

    async def read_resource(
        ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await runner.read_resource(resolve_view(ctx), str(params.uri))

    return Server(
        "agent-bridge",
        version=__version__,
        title="Agent Bridge",
        instructions=(
            "Tools that ask hosted knowledge-base agents. Use ask for answers with sources, search_citations for "
            "references only, list_sources to see what an agent knows."
        ),
        get_tool_input_schema=input_schema_for,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )


__all__ = ["AgentView", "CallSettings", "ViewResolver", "build_server"]
