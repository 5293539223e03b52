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
from dataclasses import dataclass
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
from mcp_server.errors import UpstreamError, UpstreamTimeoutError
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
    r"^agent://(?P<agent>[a-z0-9-]+)/(?:(?P<settings>settings)|(?P<sources>sources)|(?P<pages>pages)(?:\?page=(?P<page>\d+))?"
    r"|conversations/(?P<conversation>[A-Za-z0-9._-]{1,128})|citations/(?P<citation>[A-Za-z0-9._-]{1,64}))$"
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
        msg = "unknown argument" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(f"{where}: {msg}")
    return f"Invalid arguments for '{tool}': " + "; ".join(problems) + ". Fix them and call again."


class ToolRunner:
    """Runs one tool of one agent under the call deadline, with progress when the client asked for it."""

    def __init__(self, settings: CallSettings) -> None:
        self._settings = settings

    async def call(
        self, ctx: ServerRequestContext[Any, Any], agent: Agent, tool: str, name: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        spec = SPECS[tool]
        try:
            args = spec.args.model_validate(arguments)
        except ValidationError as exc:
            return _error_result(_argument_problem(name, exc))
        try:
            with anyio.fail_after(self._settings.deadline_seconds):
                return _success(await self._dispatch(ctx, agent, args))
        except TimeoutError:
            err = UpstreamTimeoutError(
                f"no complete answer within the {self._settings.deadline_seconds:g} second call deadline. "
                "Ask a narrower question, retry later, or raise server.call_deadline_seconds."
            )
            return _error_result(err.for_agent(agent.name))
        except UpstreamError as exc:
            logger.info("tool %s failed upstream: %s", name, type(exc).__name__)
            return _error_result(exc.for_agent(agent.name))

    async def _dispatch(self, ctx: ServerRequestContext[Any, Any], agent: Agent, args: BaseModel) -> BaseModel:
        backend = agent.backend
        if isinstance(args, AskArgs):
            if progress_token_from_params(ctx.params) is None:
                return ask_result(await backend.ask(args.question, args.conversation_id, None))
            relay = ProgressRelay(ctx.session.report_progress, keepalive=self._settings.keepalive_seconds)
            return ask_result(
                await relay.run(lambda on_delta: backend.ask(args.question, args.conversation_id, on_delta))
            )
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


async def read_agent_resource(view: AgentView, uri: str) -> types.ReadResourceResult:
    match = _RESOURCE_URI.match(uri)
    agent = view.agent(match["agent"]) if match else None
    if match is None or agent is None:
        raise MCPError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}. List resources and templates for valid URIs.")
    backend = agent.backend
    try:
        if match["settings"]:
            return _json_contents(uri, await backend.settings())
        if match["sources"] or match["pages"]:
            listing = sources_result(await backend.list_sources(int(match["page"] or 1)))
            payload = listing.sources if match["sources"] else listing.pages
            extra = (
                {}
                if match["sources"]
                else {"page": listing.page, "last_page": listing.last_page, "total": listing.total_pages}
            )
            return _json_contents(uri, {"items": [item.model_dump(mode="json") for item in payload], **extra})
        if match["conversation"]:
            transcript = await backend.transcript(match["conversation"])
            return _json_contents(
                uri,
                {
                    "conversation_id": transcript.conversation_id,
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
    except UpstreamError as exc:
        code = RESOURCE_NOT_FOUND if exc.status == 404 else types.INTERNAL_ERROR
        raise MCPError(code, exc.for_agent(agent.name)) from None


def build_server(resolve_view: ViewResolver, settings: CallSettings | None = None) -> Server[Any]:
    runner = ToolRunner(settings or CallSettings())

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
        return await runner.call(ctx, agent, tool, params.name, dict(params.arguments or {}))

    async def list_resources(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        view = resolve_view(ctx)
        resources: list[types.Resource] = []
        for agent in view.agents:
            kinds = [("settings", "settings")]
            if "list_sources" in agent.tools:
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
        return await read_agent_resource(resolve_view(ctx), str(params.uri))

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
