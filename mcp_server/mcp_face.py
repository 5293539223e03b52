"""The MCP face: tools, resources, prompts and completions generated from the operations registry, for
every transport.

One low-level `Server` serves stdio, Streamable HTTP and HTTP+SSE. Which agents a request sees is
decided per request by a `ViewResolver` (stdio: all of them; HTTP: those of the endpoint and the
caller's token), so the tool list is computed from the caller's view rather than registered once.

Failures a model can act on (upstream 401/404/429/5xx, timeouts, bad arguments, a conversation that
is not the caller's) come back as tool results with `isError: true` and one sentence naming the
agent, the cause and the remedy. Protocol mistakes (an unknown tool, a resource that does not exist)
stay JSON-RPC errors. Tool calls and resource reads run under the same deadline.
"""

from __future__ import annotations

import base64
import functools
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
from mcp.server.caching import CacheableMethod, CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from mcp_server import __version__
from mcp_server.agents import Agent, AgentView
from mcp_server.audit import OK, AuditLog, Outcome, answer_of, outcome_of, question_of
from mcp_server.conversations import ConversationSeal
from mcp_server.errors import CallError
from mcp_server.list_changes import ListChanges
from mcp_server.operations import RESOURCES, TOOLS, Call, ResourceOperation, ToolOperation
from mcp_server.operations.completion import NOTHING, TEMPLATE_COMPLETERS, Completer, Completion, Lookup, bounded
from mcp_server.operations.connector import CONNECTOR_TOOLS, AgentCall, ConnectorOperation, Shelf, encoded
from mcp_server.operations.models import Link
from mcp_server.operations.prompts import PROMPTS, PromptOperation, PromptOut
from mcp_server.page_fetcher import PageFetcher
from mcp_server.progress import ProgressRelay
from mcp_server.protection import RateLimiter
from mcp_server.research_cache import DocumentCache
from mcp_server.source_catalog import SourceCatalog
from mcp_server.telemetry.mcp_metrics import OperationMetrics, note_operation

logger = logging.getLogger(__name__)

RESOURCE_NOT_FOUND: Final = -32002  # through 2025-11-25; 2026-07-28 answers -32602 (SEP-2164)
MAX_ECHOED_URI: Final = 2048
_RESOURCE_URI: Final = re.compile(
    r"agent://(?P<agent>[a-z0-9-]{1,48})/(?:" + "|".join(f"(?P<r{i}>{r.path})" for i, r in enumerate(RESOURCES)) + ")"
)
_OPERATION_GROUP: Final = re.compile(r"r[0-9]+")  # the regex groups that say which resource matched
BRIDGE_ICON: Final = types.Icon(
    src="data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
        b'fill="#1f4e79"/><path d="M6 20h20M10 20v-6h12v6" stroke="#fff" stroke-width="2.5" fill="none"/></svg>'
    ).decode(),
    mime_type="image/svg+xml",
    sizes=["any"],
)
"""Agent Bridge's own icon (a bridge over water), inline so it needs no host."""
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


def agent_icons(agent: Agent) -> list[types.Icon] | None:
    """The agent's icon (from its config or its upstream avatar) for its tools and prompts."""
    return [types.Icon(src=agent.icon)] if agent.icon else None


def tool_definition(name: str, op: ToolOperation[Any, Any], agent: Agent) -> types.Tool:
    return _tool_definition(name, op.name, agent.title, agent.description, agent.icon)


# Tool definitions are built once per (name, operation, agent title, description, icon): they do not change
# while the configuration lives, and building them (pydantic JSON schemas above all) was a quarter of the
# CPU of a call at 2026-07-28, where the SDK looks the tool's input schema up on every `tools/call`.
@functools.lru_cache(maxsize=4096)
def _tool_definition(
    name: str, operation: str, agent_title: str, agent_description: str, agent_icon: str | None
) -> types.Tool:
    op = TOOLS[operation]
    title = op.titled(agent_title)
    return types.Tool(
        name=name,
        title=title,
        description=op.described(agent_description),
        icons=[types.Icon(src=agent_icon)] if agent_icon else None,
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


def resource_link(link: Link) -> types.ResourceLink:
    return types.ResourceLink(
        uri=link.uri, name=link.name, title=link.title, description=link.description, mime_type=link.mime_type
    )


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
        return _prompt_result(out)

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


def _resource(agent: Agent, op: ResourceOperation) -> types.Resource:
    return types.Resource(
        uri=op.template.replace("{agent}", agent.name).split("{")[0],
        name=f"{agent.name}-{op.name}",
        title=f"{agent.title}: {op.title}",
        mime_type="application/json",
    )


def prompt_definition(name: str, op: PromptOperation, agent: Agent) -> types.Prompt:
    return types.Prompt(
        name=name,
        title=op.titled(agent.title),
        description=op.described(agent.description),
        icons=agent_icons(agent),
        arguments=[
            types.PromptArgument(name=a.name, description=a.description, required=a.required) for a in op.arguments()
        ],
    )


def _prompt_result(out: PromptOut) -> types.GetPromptResult:
    messages = [
        types.PromptMessage(
            role=m.role,
            content=resource_link(m.link) if m.link is not None else types.TextContent(text=m.text or ""),
        )
        for m in out.messages
    ]
    return types.GetPromptResult(description=out.description, messages=messages)


def view_prompts(view: AgentView) -> list[tuple[str, Agent, PromptOperation]]:
    """The prompts the caller may use: those whose tool it may use, named as the view names tools."""
    if view.face == "chatgpt":
        return []
    return [
        (view.tool_name(agent, op.name), agent, op)
        for agent in view.agents
        for op in PROMPTS.values()
        if view.allows(agent, op.tool)
    ]


def _completion_target(
    view: AgentView, params: types.CompleteRequestParams
) -> tuple[Agent, Completer] | Completion | None:
    """What completes `params`: an agent and its completer, a ready answer (agent names), or None (an
    unknown prompt or template)."""
    argument = params.argument.name
    if isinstance(params.ref, types.PromptReference):
        name = params.ref.name
        found = next(((a, op) for n, a, op in view_prompts(view) if n == name), None)
        if found is None:
            return None
        agent, op = found
        completer = op.completes.get(argument)
        return (agent, completer) if completer is not None else NOTHING
    resource = next((r for r in RESOURCES if r.template == params.ref.uri), None)
    if resource is None:
        return None
    offering = [a for a in view.agents if view.offers(a, resource)]
    if argument == "agent":
        return bounded((a.name for a in offering), params.argument.value)
    completer = TEMPLATE_COMPLETERS.get(argument)
    named = (params.context.arguments or {}).get("agent") if params.context else None
    agent = next((a for a in offering if a.name == named), None) if named else None
    if agent is None and len(offering) == 1:
        agent = offering[0]
    return (agent, completer) if completer is not None and agent is not None else NOTHING


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


LIST_CACHE_HINT: Final = CacheHint(ttl_ms=60_000, scope="private")
"""2026-07-28 cache hints of the list results: they depend on the caller's token (private) and change
only when the configuration is reloaded, which `subscriptions/listen` streams hear about at once."""


class _AnnouncingServer(Server[Any]):
    """A `Server` whose 2025-era handshake says its tool, prompt and resource lists can change."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        changing = NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)
        return super().create_initialization_options(
            notification_options or changing, experimental_capabilities, extensions
        )


def build_server(
    resolve_view: ViewResolver,
    seal: ConversationSeal,
    settings: CallSettings | None = None,
    changes: ListChanges | None = None,
    limiter: RateLimiter | None = None,
    audit: AuditLog | None = None,
) -> Server[Any]:
    """The MCP server. With `changes`, it tells clients when the agent list changes (`changes.announce`)."""
    runner = Runner(settings or CallSettings(), seal, limiter, audit)

    def seen(ctx: ServerRequestContext[Any, Any]) -> None:
        if changes is not None:
            changes.seen(ctx)

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        view = resolve_view(ctx)
        seen(ctx)
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
        seen(ctx)
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
        # SEP-2164: from 2026-07-28 on, a resource that does not exist is invalid params.
        not_found = types.INVALID_PARAMS if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS else RESOURCE_NOT_FOUND
        return await runner.read_resource(resolve_view(ctx), str(params.uri), not_found)

    async def list_prompts(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        seen(ctx)
        return types.ListPromptsResult(
            prompts=[prompt_definition(name, op, agent) for name, agent, op in view_prompts(resolve_view(ctx))]
        )

    async def get_prompt(
        ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        view = resolve_view(ctx)
        prompts = view_prompts(view)
        found = next(((a, op) for n, a, op in prompts if n == params.name), None)
        if found is None:
            available = ", ".join(n for n, _, _ in prompts) or "none"
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: '{params.name}'. Available prompts: {available}.")
        agent, op = found
        return await runner.get_prompt(view, agent, op, params.name, dict(params.arguments or {}))

    async def complete(
        ctx: ServerRequestContext[Any, Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        view = resolve_view(ctx)
        target = _completion_target(view, params)
        if target is None:
            raise MCPError(types.INVALID_PARAMS, "Nothing to complete: no such prompt or resource template here.")
        found = (
            target if isinstance(target, Completion) else await runner.complete(view, *target, params.argument.value)
        )
        return types.CompleteResult(
            completion=types.Completion(values=list(found.values), total=found.total, has_more=found.has_more)
        )

    hints: dict[CacheableMethod, CacheHint] = {
        "tools/list": LIST_CACHE_HINT,
        "prompts/list": LIST_CACHE_HINT,
        "resources/list": LIST_CACHE_HINT,
        "resources/templates/list": LIST_CACHE_HINT,
    }
    server: Server[Any] = (_AnnouncingServer if changes is not None else Server)(
        "agent-bridge",
        version=__version__,
        title="Agent Bridge",
        icons=[BRIDGE_ICON],
        cache_hints=hints if changes is not None else None,
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
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_subscriptions_listen=changes.listen if changes is not None else None,
    )
    server.middleware.append(OperationMetrics())  # inside the SDK's own span per message
    return server


__all__ = ["AgentView", "CallSettings", "ViewResolver", "build_server"]
