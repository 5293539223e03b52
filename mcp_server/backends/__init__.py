"""Backends: one module per upstream kind, plugged in here.

Adding a backend kind is one module (its settings model, its `Backend` class with `CAPABILITIES`)
and one `BackendKind` entry below. The configuration's `[backends.*]` tables are the union of the
kinds' settings models, told apart by `kind`; `create_backend` is the one factory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final, cast

from pydantic import Field

from mcp_server.backends.base import AgentTarget, Backend, BackendSettings, Capability
from mcp_server.backends.customgpt import CustomGPTBackend, CustomGPTSettings
from mcp_server.backends.openai import COMPLETIONS_PATH, CodeGPTSettings, OpenAIBackend, OpenAISettings
from mcp_server.upstream import ScopedClient, UpstreamClient


def _customgpt(target: AgentTarget, client: UpstreamClient, api_key: str | None) -> Backend:
    assert target.project_id is not None  # the configuration requires it for this kind
    return CustomGPTBackend(client.scoped(f"api/v1/projects/{target.project_id}", api_key), target.project_id)


def _openai(target: AgentTarget, client: UpstreamClient, api_key: str | None) -> Backend:
    assert target.model is not None
    scoped: ScopedClient = client.scoped(COMPLETIONS_PATH, api_key)
    return OpenAIBackend(scoped, {"model": target.model}, target.model, target.system_prompt)


def _codegpt(target: AgentTarget, client: UpstreamClient, api_key: str | None) -> Backend:
    assert target.agent_id is not None
    fields = {"agentId": target.agent_id, "format": "json"}
    title = f"CodeGPT agent {target.agent_id}"
    return OpenAIBackend(client.scoped(COMPLETIONS_PATH, api_key), fields, title, target.system_prompt)


@dataclass(frozen=True, slots=True)
class BackendKind:
    """One upstream kind: its settings, what its backends can do, and how an agent names its target."""

    settings: type[BackendSettings]
    capabilities: frozenset[Capability]
    target_field: str  # the `[[agents]]` key that names the agent upstream
    target_example: str
    build: Callable[[AgentTarget, UpstreamClient, str | None], Backend]


KINDS: Final[dict[str, BackendKind]] = {
    "customgpt": BackendKind(
        CustomGPTSettings, CustomGPTBackend.CAPABILITIES, "project_id", "the project's number", _customgpt
    ),
    "openai": BackendKind(
        OpenAISettings,
        OpenAIBackend.CAPABILITIES,
        "model",
        "e.g. gpt-4o; or gpt = a custom GPT's link, e.g. https://chatgpt.com/g/g-bo0FiWLY7-researchgpt",
        _openai,
    ),
    "codegpt": BackendKind(CodeGPTSettings, OpenAIBackend.CAPABILITIES, "agent_id", "the agent's id", _codegpt),
}


def with_default_kind(table: object) -> object:
    """A `[backends.*]` table without `kind` is a CustomGPT backend."""
    if not isinstance(table, dict):
        return table
    values = cast(dict[str, Any], table)
    return values if "kind" in values else {**values, "kind": "customgpt"}


BackendConfig = Annotated[CustomGPTSettings | OpenAISettings | CodeGPTSettings, Field(discriminator="kind")]
"""A `[backends.*]` table: one kind's settings, told apart by `kind` (see `with_default_kind`)."""


def create_client(settings: BackendSettings) -> UpstreamClient:
    """The pooled client for one backend, shared by all its agents (and passthrough callers)."""
    return UpstreamClient(
        settings.base_url,
        settings.api_key.get_secret_value(),
        timeout=settings.timeout_seconds,
        connect_timeout=settings.connect_timeout_seconds,
        max_connections=settings.max_connections,
    )


def create_backend(kind: str, target: AgentTarget, client: UpstreamClient, api_key: str | None = None) -> Backend:
    """The agent's backend on the shared pool `client`, confined to the agent's own upstream paths;
    `api_key` overrides the configured key (passthrough mode)."""
    return KINDS[kind].build(target, client, api_key)


__all__ = [
    "KINDS",
    "AgentTarget",
    "Backend",
    "BackendConfig",
    "BackendKind",
    "create_backend",
    "create_client",
    "with_default_kind",
]
