"""OAuth scopes in terms of agents: `agent:<name>` grants one agent, `agent:*` every agent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

AGENT_PREFIX: Final = "agent:"
ALL_AGENTS: Final = "agent:*"


def agent_scope(name: str) -> str:
    return f"{AGENT_PREFIX}{name}"


def granted_agents(scopes: Iterable[str]) -> tuple[str, ...]:
    """The agent names (or `*`) a token's scopes grant, in the form `AccessScope.of` takes."""
    return tuple(sorted({s.removeprefix(AGENT_PREFIX) for s in scopes if s.startswith(AGENT_PREFIX)}))


def scopes_supported(agent_names: Iterable[str]) -> list[str]:
    return [ALL_AGENTS, *(agent_scope(n) for n in agent_names)]
