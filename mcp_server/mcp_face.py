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

from collections.abc import Callable
from typing import Any, Final

import mcp_types as types
from mcp.server.caching import CacheableMethod, CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_server import __version__
from mcp_server.agents import AgentView
from mcp_server.audit import AuditLog
from mcp_server.conversations import ConversationSeal
from mcp_server.list_changes import ListChanges
from mcp_server.mcp_definitions import (
    BRIDGE_ICON,
    completion_target,
    connector_definition,
    connector_offered,
    input_schema_for,
    prompt_definition,
    resource_definition,
    tool_definition,
    view_prompts,
)
from mcp_server.operation_runner import RESOURCE_NOT_FOUND, CallSettings, Runner
from mcp_server.operations import RESOURCES, TOOLS
from mcp_server.operations.completion import Completion
from mcp_server.operations.connector import CONNECTOR_TOOLS
from mcp_server.protection import RateLimiter
from mcp_server.telemetry.mcp_metrics import OperationMetrics

ViewResolver = Callable[[ServerRequestContext[Any, Any]], AgentView]


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
            offered = connector_offered(view)
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
            connector = CONNECTOR_TOOLS.get(params.name) if connector_offered(view) else None
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
                resource_definition(agent, op)
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
        target = completion_target(view, params)
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
