"""The MCP server for a set of agents: tools, resources, and the mapping of failures to results.

One low-level `Server` serves every transport. Which agents a request sees is decided per request by
a `ViewResolver` (stdio: all of them; HTTP: those of the endpoint and the caller's token), so the tool
list is computed from the caller's view rather than registered once.

Failures a model can act on (upstream 401/404/429/5xx, timeouts, bad arguments) come back as tool
results with `isError: true` and one sentence naming the agent, the cause and the remedy. Protocol
mistakes (an unknown tool, a resource that does not exist) stay JSON-RPC errors.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from pydantic import BaseModel, ValidationError

from mcp_server import __version__
from mcp_server.agents import AccessScope, Agent
from mcp_server.conversations import ConversationSeal
from mcp_server.errors import UpstreamError, UpstreamNotFoundError, UpstreamProtocolError, UpstreamTimeoutError
from mcp_server.ids import CITATION_ID, CONVERSATION_ID, MAX_PAGE
from mcp_server.progress import ProgressRelay
from mcp_server.tools import (
    SPECS,
    AskArgs,
    CitationOut,
    ListSourcesArgs,
    SearchCitationsArgs,
    SearchCitationsResult,
    ask_result,
    render_text,
    sources_result,
    tool_definition,
)

logger = logging.getLogger(__name__)

RESOURCE_NOT_FOUND: Final = -32002
_RESOURCE_URI = re.compile(
    r"agent://(?P<agent>[a-z0-9-]{1,48})/(?:(?P<settings>settings)|(?P<sources>sources)"
    r"|(?P<pages>pages)(?:\?page=(?P<page>[1-9][0-9]{0,5}))?"
    rf"|conversations/(?P<conversation>{CONVERSATION_ID.pattern})|citations/(?P<citation>{CITATION_ID.pattern}))"
)
RESOURCE_TEMPLATES: Final = (
    ("agent://{agent}/settings", "settings", "The agent's settings: persona, model, citation options."),
    ("agent://{agent}/sources", "sources", "The agent's data sources (sitemaps, uploads)."),
    ("agent://{agent}/pages{?page}", "pages", "The agent's indexed pages with crawl/index status, 20 a page."),
    ("agent://{agent}/conversations/{conversation_id}", "conversation", "A conversation's transcript."),
    ("agent://{agent}/citations/{citation_id}", "citation", "One cited source: title, url, description, image."),
)


@dataclass(frozen=True, slots=True)
class CallSettings:
    deadline_seconds: float = 300.0
    keepalive_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class AgentView:
    """The agents one request may use. A view of exactly one agent names its tools without a prefix."""

    agents: tuple[Agent, ...]
    scope: AccessScope
    principal: str = "local"  # who the caller is; conversations belong to the principal that started them

    def tool_name(self, agent: Agent, tool: str) -> str:
        return tool if len(self.agents) == 1 else f"{agent.name}_{tool}"

    def tools(self) -> list[tuple[str, Agent, str]]:
        return [
            (self.tool_name(agent, tool), agent, tool)
            for agent in self.agents
            for tool in agent.tools
            if self.scope.allows_tool(agent.name, tool)
        ]

    def find_tool(self, name: str) -> tuple[Agent, str] | None:
        return next(((agent, tool) for n, agent, tool in self.tools() if n == name), None)

    def agent(self, name: str) -> Agent | None:
        return next((a for a in self.agents if a.name == name), None)

    def allows(self, agent: Agent, tool: str) -> bool:
        """Whether the caller may use `tool` of `agent` (and so the resources that show the same data)."""
        return tool in agent.tools and self.scope.allows_tool(agent.name, tool)


ViewResolver = Callable[[ServerRequestContext[Any, Any]], AgentView]


def _error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def _success(result: BaseModel) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=render_text(result))],
        structured_content=result.model_dump(mode="json"),
    )


def _argument_problem(tool: str, exc: ValidationError) -> str:
    problems: list[str] = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        msg = "unknown argument" if err["type"] == "extra_forbidden" else str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {msg}")
    return f"Invalid arguments for '{tool}': " + "; ".join(problems) + ". Fix them and call again."


def no_conversation(conversation_id: str) -> UpstreamNotFoundError:
    """The one answer for a conversation that does not exist and for one that is someone else's."""
    return UpstreamNotFoundError(
        f"no conversation {conversation_id} for this caller (conversation ids belong to the token that started "
        "them). Ask without conversation_id to start a new conversation.",
        status=404,
    )


class ToolRunner:
    """Runs one tool of one agent under the call deadline, with progress when the client asked for it."""

    def __init__(self, settings: CallSettings, seal: ConversationSeal) -> None:
        self._settings = settings
        self._seal = seal

    async def call(
        self,
        ctx: ServerRequestContext[Any, Any],
        view: AgentView,
        agent: Agent,
        tool: str,
        name: str,
        arguments: dict[str, Any],
    ) -> types.CallToolResult:
        spec = SPECS[tool]
        try:
            args = spec.args.model_validate(arguments)
        except ValidationError as exc:
            return _error_result(_argument_problem(name, exc))
        try:
            with anyio.fail_after(self._settings.deadline_seconds):
                return _success(await self._dispatch(ctx, view, agent, args))
        except TimeoutError:
            err = UpstreamTimeoutError(
                f"no complete answer within the {self._settings.deadline_seconds:g} second call deadline. "
                "Ask a narrower question, retry later, or raise server.call_deadline_seconds."
            )
            return _error_result(err.for_agent(agent.name))
        except UpstreamError as exc:
            logger.info("tool %s failed upstream: %s", name, type(exc).__name__)
            return _error_result(exc.for_agent(agent.name))
        except Exception:  # a bug of ours: the model reads one sentence, the operator the traceback
            logger.exception("tool %s failed inside the bridge", name)
            return _error_result(
                f"Agent '{agent.name}': the bridge failed while handling this call (an internal error, logged "
                "for the operator). Retry; if it persists, tell the operator."
            )

    async def _dispatch(
        self, ctx: ServerRequestContext[Any, Any], view: AgentView, agent: Agent, args: BaseModel
    ) -> BaseModel:
        backend = agent.backend
        if isinstance(args, AskArgs):
            upstream_id: str | None = None
            if args.conversation_id is not None:
                upstream_id = self._seal.open(view.principal, agent.name, args.conversation_id)
                if upstream_id is None:
                    raise no_conversation(args.conversation_id)
            if progress_token_from_params(ctx.params) is None:
                answer = await backend.ask(args.question, upstream_id, None)
            else:
                relay = ProgressRelay(ctx.session.report_progress, keepalive=self._settings.keepalive_seconds)
                answer = await relay.run(lambda on_delta: backend.ask(args.question, upstream_id, on_delta))
            try:
                sealed = self._seal.seal(view.principal, agent.name, answer.conversation_id)
            except ValueError:
                raise UpstreamProtocolError(
                    "the upstream answered with a conversation id the bridge cannot use. Retry."
                ) from None
            return ask_result(replace(answer, conversation_id=sealed))
        if isinstance(args, SearchCitationsArgs):
            if progress_token_from_params(ctx.params) is None:
                found = await backend.search_citations(args.query, args.limit)
            else:
                relay = ProgressRelay(ctx.session.report_progress, keepalive=self._settings.keepalive_seconds)
                found = await relay.run(lambda _: backend.search_citations(args.query, args.limit))
            return SearchCitationsResult(citations=[CitationOut.of(c) for c in found])
        if isinstance(args, ListSourcesArgs):
            return sources_result(await backend.list_sources(args.page))
        raise AssertionError(f"no dispatch for {type(args).__name__}")  # pragma: no cover


def _json_contents(uri: str, value: Any) -> types.ReadResourceResult:
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=json.dumps(value, indent=2))]
    )


def _resource_not_found(uri: str) -> MCPError:
    # The URI is echoed only once it is known to be one of ours; anything else could carry any text.
    shown = uri if _RESOURCE_URI.fullmatch(uri) else "this URI"
    return MCPError(RESOURCE_NOT_FOUND, f"Resource not found: {shown}. List resources and templates for valid URIs.")


async def read_agent_resource(
    view: AgentView, uri: str, seal: ConversationSeal, deadline_seconds: float = 300.0
) -> types.ReadResourceResult:
    """One `agent://` resource, for a caller who may use the tool that shows the same data."""
    match = _RESOURCE_URI.fullmatch(uri)
    agent = view.agent(match["agent"]) if match else None
    if match is None or agent is None:
        raise _resource_not_found(uri)
    needs = "list_sources" if match["sources"] or match["pages"] else "ask" if match["conversation"] else None
    if needs is not None and not view.allows(agent, needs):
        raise _resource_not_found(uri)
    try:
        with anyio.fail_after(deadline_seconds):
            return await _read(view, agent, match, uri, seal)
    except TimeoutError:
        raise MCPError(
            types.INTERNAL_ERROR,
            f"Agent '{agent.name}': no answer from the upstream within the {deadline_seconds:g} second deadline. "
            "Retry later.",
        ) from None
    except UpstreamError as exc:
        code = RESOURCE_NOT_FOUND if exc.status == 404 else types.INTERNAL_ERROR
        raise MCPError(code, exc.for_agent(agent.name)) from None


async def _read(
    view: AgentView, agent: Agent, match: re.Match[str], uri: str, seal: ConversationSeal
) -> types.ReadResourceResult:
    backend = agent.backend
    if match["settings"]:
        settings = await backend.settings()
        shown = {**settings.public, **settings.operator} if view.scope.reveals_config else settings.public
        return _json_contents(uri, shown)
    if match["sources"] or match["pages"]:
        page = int(match["page"] or 1)
        if page > MAX_PAGE:
            raise _resource_not_found(uri)
        listing = sources_result(await backend.list_sources(page))
        payload = listing.sources if match["sources"] else listing.pages
        extra = (
            {}
            if match["sources"]
            else {"page": listing.page, "last_page": listing.last_page, "total": listing.total_pages}
        )
        return _json_contents(uri, {"items": [item.model_dump(mode="json") for item in payload], **extra})
    if match["conversation"]:
        conversation_id = match["conversation"]
        upstream_id = seal.open(view.principal, agent.name, conversation_id)
        if upstream_id is None:
            raise no_conversation(conversation_id)
        transcript = await backend.transcript(upstream_id)
        return _json_contents(
            uri,
            {
                "conversation_id": conversation_id,
                "name": transcript.name,
                "messages": [
                    {
                        "id": m.id,
                        "question": m.question,
                        "answer": m.answer,
                        "created_at": m.created_at,
                        "citations": list(m.citation_ids),
                    }
                    for m in transcript.messages
                ],
            },
        )
    citation = await backend.citation(match["citation"])
    return _json_contents(uri, CitationOut.of(citation).model_dump(mode="json"))


def build_server(
    resolve_view: ViewResolver, seal: ConversationSeal, settings: CallSettings | None = None
) -> Server[Any]:
    settings = settings or CallSettings()
    runner = ToolRunner(settings, seal)

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        view = resolve_view(ctx)
        return types.ListToolsResult(
            tools=[tool_definition(name, tool, agent.title, agent.description) for name, agent, tool in view.tools()]
        )

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        view = resolve_view(ctx)
        found = view.find_tool(params.name)
        if found is None:
            available = ", ".join(n for n, _, _ in view.tools()) or "none"
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: '{params.name}'. Available tools: {available}.")
        agent, tool = found
        return await runner.call(ctx, view, agent, tool, params.name, dict(params.arguments or {}))

    async def list_resources(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        view = resolve_view(ctx)
        resources: list[types.Resource] = []
        for agent in view.agents:
            kinds = [("settings", "settings")]
            if view.allows(agent, "list_sources"):
                kinds += [("sources", "data sources"), ("pages", "indexed pages")]
            for kind, what in kinds:
                resources.append(
                    types.Resource(
                        uri=f"agent://{agent.name}/{kind}",
                        name=f"{agent.name}-{kind}",
                        title=f"{agent.title}: {what}",
                        mime_type="application/json",
                    )
                )
        return types.ListResourcesResult(resources=resources)

    async def list_templates(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(uri_template=t, name=name, description=d, mime_type="application/json")
                for t, name, d in RESOURCE_TEMPLATES
            ]
        )

    async def read_resource(
        ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await read_agent_resource(resolve_view(ctx), str(params.uri), seal, settings.deadline_seconds)

    return Server(
        "agent-bridge",
        version=__version__,
        title="Agent Bridge",
        instructions=(
            "Tools that ask hosted knowledge-base agents. Use ask for answers with sources, search_citations for "
            "references only, list_sources to see what an agent knows."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )
