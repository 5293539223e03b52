"""What the MCP face lists: tool, resource, prompt and connector definitions generated from the
operations registry for one caller's view, and the icon the bridge and its agents show."""

from __future__ import annotations

import base64
import functools
from typing import Any, Final

import mcp_types as types

from mcp_server.agents import Agent, AgentView
from mcp_server.operations import RESOURCES, TOOLS, ResourceOperation, ToolOperation
from mcp_server.operations.completion import NOTHING, TEMPLATE_COMPLETERS, Completer, Completion, bounded
from mcp_server.operations.connector import ConnectorOperation
from mcp_server.operations.models import Link
from mcp_server.operations.prompts import PROMPTS, PromptOperation, PromptOut

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


def resource_definition(agent: Agent, op: ResourceOperation) -> types.Resource:
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


def prompt_result(out: PromptOut) -> types.GetPromptResult:
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


def completion_target(
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


def connector_offered(view: AgentView) -> bool:
    return any(view.allows(a, "ask") for a in view.agents)
