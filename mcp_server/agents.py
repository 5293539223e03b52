"""The agent registry: which agents exist, and which of them (and which tools) a caller may use."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import anyio

from mcp_server.backends import Backend, create_backend, create_client
from mcp_server.config import TOOL_NAMES, BridgeConfig, agent_tools
from mcp_server.errors import UpstreamError
from mcp_server.upstream import UpstreamClient

logger = logging.getLogger(__name__)

PROFILE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    title: str
    description: str
    project_id: int | None
    tools: tuple[str, ...]
    backend: Backend


@dataclass(frozen=True, slots=True)
class AccessScope:
    """What one caller may use; `None` means everything."""

    agents: frozenset[str] | None = None
    tools: frozenset[str] | None = None
    label: str = "anonymous"
    reveals_config: bool = False  # the operator's prompts and upstream agent ids in `settings`

    @classmethod
    def of(cls, agents: Iterable[str], tools: Iterable[str], label: str, scopes: Iterable[str] = ()) -> AccessScope:
        agent_set, tool_set = frozenset(agents), frozenset(tools)
        return cls(
            agents=None if "*" in agent_set else agent_set,
            tools=None if "*" in tool_set else tool_set,
            label=label,
            reveals_config="agent_config" in scopes,
        )

    def allows_agent(self, name: str) -> bool:
        return self.agents is None or name in self.agents

    def allows_tool(self, agent: str, tool: str) -> bool:
        return self.allows_agent(agent) and (
            self.tools is None or tool in self.tools or f"{agent}_{tool}" in self.tools
        )


EVERYTHING = AccessScope(label="local", reveals_config=True)
"""The operator's own access: stdio, and an HTTP bridge with no tokens (loopback only)."""


def slug(text: str) -> str:
    """A valid agent name from an upstream project name."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:48].strip("-") or "agent"


def default_description(title: str) -> str:
    return f"the '{title}' knowledge base, a hosted RAG agent that answers from its indexed documents"


class AgentRegistry:
    def __init__(self, agents: Iterable[Agent], clients: dict[str, UpstreamClient] | None = None) -> None:
        self._agents = {a.name: a for a in agents}
        self.clients: dict[str, UpstreamClient] = dict(clients or {})  # one pool per backend, by backend name
        self._by_project = {a.project_id: a for a in self._agents.values() if a.project_id is not None}

    def __len__(self) -> int:
        return len(self._agents)

    def get(self, name: str) -> Agent | None:
        return self._agents.get(name)

    def by_project(self, project_id: int) -> Agent | None:
        return self._by_project.get(project_id)

    def visible(self, scope: AccessScope) -> list[Agent]:
        return [a for a in self._agents.values() if scope.allows_agent(a.name)]

    @classmethod
    @asynccontextmanager
    async def open(cls, config: BridgeConfig) -> AsyncGenerator[AgentRegistry]:
        """Create one upstream pool per backend, resolve names where asked, close the pools on exit."""
        async with AsyncExitStack() as stack:
            clients: dict[str, UpstreamClient] = {}
            for name, backend_config in config.backends.items():
                clients[name] = create_client(backend_config)
                stack.push_async_callback(clients[name].aclose)
            agents: list[Agent] = []
            for agent_config in config.agents:
                backend = create_backend(
                    config.backends[agent_config.backend], agent_config, clients[agent_config.backend]
                )
                agents.append(
                    Agent(
                        name=agent_config.name,
                        title=agent_config.title or agent_config.name,
                        description=agent_config.description
                        or default_description(agent_config.title or agent_config.name),
                        project_id=agent_config.project_id,
                        tools=agent_tools(agent_config, config.backends[agent_config.backend].kind),
                        backend=backend,
                    )
                )
            if config.discover_agent_names:
                agents = await _discover_names(agents)
            yield cls(agents, clients)


async def _discover_names(agents: list[Agent]) -> list[Agent]:
    """Name each agent after its upstream project; keep `project-<id>` when the upstream cannot say."""
    resolved: dict[str, Agent] = {}

    async def resolve(agent: Agent) -> None:
        try:
            with anyio.fail_after(PROFILE_TIMEOUT_SECONDS):
                profile = await agent.backend.profile()
        except (UpstreamError, TimeoutError) as exc:
            logger.warning(
                "could not read project %s from the upstream (%s); calling it %s", agent.project_id, exc, agent.name
            )
            resolved[agent.name] = agent
            return
        resolved[agent.name] = Agent(
            name=slug(profile.title),
            title=profile.title,
            description=profile.description or default_description(profile.title),
            project_id=agent.project_id,
            tools=agent.tools,
            backend=agent.backend,
        )

    async with anyio.create_task_group() as tg:
        for agent in agents:
            tg.start_soon(resolve, agent)
    out: list[Agent] = []
    seen: set[str] = set()
    for agent in agents:
        candidate = resolved[agent.name]
        if candidate.name in seen:  # two projects with the same name: keep them apart
            candidate = Agent(
                f"{candidate.name}-{agent.project_id}",
                candidate.title,
                candidate.description,
                candidate.project_id,
                candidate.tools,
                candidate.backend,
            )
        seen.add(candidate.name)
        out.append(candidate)
    return out


__all__ = ["EVERYTHING", "TOOL_NAMES", "AccessScope", "Agent", "AgentRegistry", "slug"]
