"""The agents: which exist, what a caller may use of them, and the one place that builds an `Agent`.

`build_agent` is the only constructor callers use: for configured agents, for agents renamed after
their upstream project at start-up, and for passthrough callers' agents.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Final, Literal

import anyio

from mcp_server.backends import KINDS, AgentTarget, Backend, BackendSettings, create_backend, create_client
from mcp_server.backends.customgpt import CITATION_CACHE_SECONDS, CITATION_CACHE_SIZE
from mcp_server.config import AgentConfig, BridgeConfig, agent_tools
from mcp_server.conversations import ConversationSeal, derive_key
from mcp_server.errors import UpstreamError
from mcp_server.operations import TOOLS, ResourceOperation
from mcp_server.store import ConversationStore, JsonCache, SharedStore, State, in_process, open_state
from mcp_server.upstream import UpstreamClient

logger = logging.getLogger(__name__)

PROFILE_TIMEOUT_SECONDS: Final = 10.0
Face = Literal["agents", "chatgpt"]


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    title: str
    description: str
    project_id: int | None
    tools: tuple[str, ...]
    backend: Backend
    page_hosts: frozenset[str] = frozenset()  # fetch_pages: the hosts whose public pages may be read
    icon: str | None = None  # an https URL or data:image URI clients show beside its tools and prompts


@dataclass(frozen=True, slots=True)
class AccessScope:
    """What one caller may use; `None` means everything."""

    agents: frozenset[str] | None = None
    tools: frozenset[str] | None = None
    label: str = "anonymous"
    reveals_config: bool = False  # the operator's prompts and upstream agent ids in `settings`
    reads_metrics: bool = False  # /metrics

    @classmethod
    def of(cls, agents: Iterable[str], tools: Iterable[str], label: str, scopes: Iterable[str] = ()) -> AccessScope:
        agent_set, tool_set = frozenset(agents), frozenset(tools)
        return cls(
            agents=None if "*" in agent_set else agent_set,
            tools=None if "*" in tool_set else tool_set,
            label=label,
            reveals_config="agent_config" in scopes,
            reads_metrics="metrics" in scopes,
        )

    def allows_agent(self, name: str) -> bool:
        return self.agents is None or name in self.agents

    def allows_tool(self, agent: str, tool: str) -> bool:
        return self.allows_agent(agent) and (
            self.tools is None or tool in self.tools or f"{agent}_{tool}" in self.tools
        )


EVERYTHING = AccessScope(label="local", reveals_config=True, reads_metrics=True)
"""The operator's own access: stdio, and an HTTP bridge with no tokens (loopback only)."""


@dataclass(frozen=True, slots=True)
class AgentView:
    """The agents one request may use, and who is asking. A view of exactly one agent names its tools
    without a prefix."""

    agents: tuple[Agent, ...]
    scope: AccessScope
    principal: str = "local"  # conversations belong to the principal that started them
    face: Face = "agents"  # "chatgpt": ChatGPT's connector contract (search + fetch) instead of agent tools

    def tool_name(self, agent: Agent, tool: str) -> str:
        return tool if len(self.agents) == 1 else f"{agent.name}_{tool}"

    def tools(self) -> list[tuple[str, Agent, str]]:
        return [(self.tool_name(a, tool), a, tool) for a in self.agents for tool in a.tools if self.allows(a, tool)]

    def find_tool(self, name: str) -> tuple[Agent, str] | None:
        return next(((agent, tool) for n, agent, tool in self.tools() if n == name), None)

    def agent(self, name: str) -> Agent | None:
        return next((a for a in self.agents if a.name == name), None)

    def allows(self, agent: Agent, tool: str) -> bool:
        """Whether the caller may use `tool` of `agent`."""
        return tool in agent.tools and self.scope.allows_tool(agent.name, tool)

    def offers(self, agent: Agent, resource: ResourceOperation) -> bool:
        """Whether the caller may read `resource` of `agent`: its backend can serve it, and the caller may
        use the tool that shows the same data."""
        if resource.needs is not None and resource.needs not in type(agent.backend).CAPABILITIES:
            return False
        return resource.gate is None or self.allows(agent, resource.gate)


def slug(text: str) -> str:
    """A valid agent name from an upstream project name."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:48].strip("-") or "agent"


def default_description(title: str) -> str:
    return f"the '{title}' knowledge base, a hosted RAG agent that answers from its indexed documents"


def build_agent(
    config: AgentConfig,
    kind: str,
    client: UpstreamClient,
    *,
    title: str | None = None,
    api_key: str | None = None,
    settings: BackendSettings | None = None,
    store: ConversationStore | None = None,
    citations: JsonCache | None = None,
) -> Agent:
    """The one constructor of an `Agent`: the configured agent on its backend's shared pool, with
    `title` (from the upstream) and `api_key` (passthrough) when given, its backend's `settings`, the
    process's conversation `store` and the agent's cited-sources cache."""
    shown = title or config.default_title()
    target = AgentTarget(config.project_id, config.upstream_model(), config.agent_id, config.system_prompt)
    tools = agent_tools(config, kind)
    assert all(t in TOOLS for t in tools)  # the configuration allows only registry names
    return Agent(
        name=config.name,
        title=shown,
        description=config.description or default_description(shown),
        project_id=config.project_id,
        tools=tools,
        backend=create_backend(kind, target, client, api_key, settings=settings, store=store, citations=citations),
        page_hosts=frozenset(h.lower() for h in config.fetch_hosts) if config.fetch_pages else frozenset(),
        icon=config.icon,
    )


def seal_for(config: BridgeConfig) -> ConversationSeal:
    """The conversation seal every worker and replica with this configuration shares."""
    if config.server.secret is not None:
        return ConversationSeal(derive_key([config.server.secret.get_secret_value()]))
    return ConversationSeal(derive_key(b.api_key.get_secret_value() for b in config.backends.values()))


class AgentRegistry:
    def __init__(
        self,
        config: BridgeConfig,
        agents: Iterable[Agent],
        clients: dict[str, UpstreamClient] | None = None,
        state: State | None = None,
    ) -> None:
        self._config = config
        self.state = state if state is not None else in_process()  # what replicas share (`[store] url`)
        self._agents = {a.name: a for a in agents}
        self._clients: dict[str, UpstreamClient] = dict(clients or {})  # one pool per backend, by backend name
        self._by_project = {a.project_id: a for a in self._agents.values() if a.project_id is not None}

    def __len__(self) -> int:
        return len(self._agents)

    def get(self, name: str) -> Agent | None:
        return self._agents.get(name)

    def by_project(self, project_id: int) -> Agent | None:
        return self._by_project.get(project_id)

    def visible(self, scope: AccessScope) -> list[Agent]:
        return [a for a in self._agents.values() if scope.allows_agent(a.name)]

    def passthrough_agent(self, project_id: int, upstream_key: str) -> Agent | None:
        """A CustomGPT project on the caller's own key, over the backend's shared pool. It is named
        `project-<id>` and shows nothing of the configured agents (no names, titles or descriptions).
        None when no CustomGPT backend is configured."""
        backends = self._config.backends
        configured = (a.backend for a in self._config.agents if a.project_id == project_id)
        customgpt = (name for name, b in backends.items() if b.kind == "customgpt")
        backend_name = next((n for n in configured if backends[n].kind == "customgpt"), next(customgpt, None))
        if backend_name is None:
            return None
        config = AgentConfig(name=f"project-{project_id}", project_id=project_id, title=f"Project {project_id}")
        return build_agent(config, "customgpt", self._clients[backend_name], api_key=upstream_key)

    async def discover_names(self) -> None:
        """Rename the agents after their upstream projects (the environment mode's `project-<id>` agents)."""
        agents = await _discover_names(list(self._agents.values()))
        self._agents = {a.name: a for a in agents}
        self._by_project = {a.project_id: a for a in agents if a.project_id is not None}

    @classmethod
    @asynccontextmanager
    async def open(
        cls, config: BridgeConfig, shared: SharedStore | None = None, *, discover_names: bool = True
    ) -> AsyncGenerator[AgentRegistry]:
        """Create one upstream pool per backend and the state the agents share (in process, or the
        `[store] url` server: over `shared`, the caller's connection, when it is to that store), resolve
        names where the configuration asks (unless `discover_names` is False: the caller calls
        `discover_names` itself, later), close the pools (and a store connection opened here) on exit."""
        async with AsyncExitStack() as stack:
            url = config.store.url.get_secret_value() if config.store.url is not None else None
            state = await stack.enter_async_context(open_state(url, shared))
            clients: dict[str, UpstreamClient] = {}
            for name, backend_config in config.backends.items():
                clients[name] = create_client(backend_config, name)
                stack.push_async_callback(clients[name].aclose)
            agents = [
                build_agent(
                    a,
                    config.backends[a.backend].kind,
                    clients[a.backend],
                    settings=config.backends[a.backend],
                    store=state.conversations,
                    citations=state.cache(
                        "citation", f"{a.backend}\0{a.name}", size=CITATION_CACHE_SIZE, seconds=CITATION_CACHE_SECONDS
                    ),
                )
                for a in config.agents
            ]
            registry = cls(config, agents, clients, state)
            if discover_names and config.discover_agent_names:
                await registry.discover_names()
            yield registry


async def _discover_names(agents: list[Agent]) -> list[Agent]:
    """Name each agent after its upstream project; keep `project-<id>` when the upstream cannot say.
    Two projects with the same name keep apart as `<name>-<project id>`. The project's avatar, where it
    has one, becomes the agent's icon."""
    profiles: dict[str, tuple[str, str | None]] = {}
    icons: dict[str, str] = {}

    async def resolve(agent: Agent) -> None:
        try:
            with anyio.fail_after(PROFILE_TIMEOUT_SECONDS):
                profile = await agent.backend.profile()
        except (UpstreamError, TimeoutError) as exc:
            logger.warning(
                "could not read project %s from the upstream (%s); calling it %s", agent.project_id, exc, agent.name
            )
            return
        profiles[agent.name] = (profile.title, profile.description)
        try:
            with anyio.fail_after(PROFILE_TIMEOUT_SECONDS):
                settings = await agent.backend.settings()
        except (UpstreamError, TimeoutError) as exc:
            logger.info("no avatar for project %s (%s)", agent.project_id, type(exc).__name__)
            return
        if settings.icon:
            icons[agent.name] = settings.icon

    async with anyio.create_task_group() as tg:
        for agent in agents:
            tg.start_soon(resolve, agent)
    out: list[Agent] = []
    seen: set[str] = set()
    for agent in agents:
        if agent.name in profiles:
            title, description = profiles[agent.name]
            name = slug(title)
            if name in seen:
                name = f"{name}-{agent.project_id}"
            description = description or default_description(title)
            agent = replace(agent, name=name, title=title, description=description, icon=icons.get(agent.name))
        seen.add(agent.name)
        out.append(agent)
    return out


__all__ = [
    "EVERYTHING",
    "KINDS",
    "AccessScope",
    "Agent",
    "AgentRegistry",
    "AgentView",
    "Face",
    "build_agent",
    "seal_for",
    "slug",
]
