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
from mcp_server.backends.chat import COMPLETIONS_PATH
from mcp_server.backends.codegpt import CodeGPTBackend, CodeGPTSettings
from mcp_server.backends.customgpt import CustomGPTBackend, CustomGPTSettings
from mcp_server.backends.memory import ChatBackendSettings, ConversationMemory
from mcp_server.backends.openai import OpenAIBackend, OpenAISettings
from mcp_server.ids import segment
from mcp_server.protection import BackendGuard
from mcp_server.store import ConversationStore, JsonCache
from mcp_server.upstream import UpstreamClient


@dataclass(frozen=True, slots=True)
class Wiring:
    """What a backend is built with besides its target: the shared pool, the key (passthrough), its
    kind's settings (None: the defaults), the conversation store and the cited-sources cache (None:
    its own, in this process)."""

    client: UpstreamClient
    api_key: str | None = None
    settings: BackendSettings | None = None
    store: ConversationStore | None = None
    citations: JsonCache | None = None

    def memory(self) -> ConversationMemory:
        settings = self.settings if isinstance(self.settings, ChatBackendSettings) else None
        return ConversationMemory.of(settings, self.store)


def _customgpt(target: AgentTarget, wiring: Wiring) -> Backend:
    assert target.project_id is not None  # the configuration requires it for this kind
    scoped = wiring.client.scoped(f"api/v1/projects/{target.project_id}", wiring.api_key)
    return CustomGPTBackend(scoped, target.project_id, wiring.citations)


def _openai(target: AgentTarget, wiring: Wiring) -> Backend:
    assert target.model is not None
    scoped = wiring.client.scoped(COMPLETIONS_PATH, wiring.api_key)
    return OpenAIBackend(scoped, target.model, target.model, wiring.memory(), target.system_prompt)


def _codegpt(target: AgentTarget, wiring: Wiring) -> Backend:
    assert target.agent_id is not None
    client, key = wiring.client, wiring.api_key
    settings = wiring.settings if isinstance(wiring.settings, CodeGPTSettings) else None
    return CodeGPTBackend(
        client.scoped(COMPLETIONS_PATH, key),
        client.scoped(f"agent/{segment(target.agent_id)}", key),
        client.scoped("document", key),
        target.agent_id,
        wiring.memory(),
        stream_format=settings.stream_format if settings is not None else "json",
        system_prompt=target.system_prompt,
    )


@dataclass(frozen=True, slots=True)
class BackendKind:
    """One upstream kind: its settings, what its backends can do, and how an agent names its target."""

    settings: type[BackendSettings]
    capabilities: frozenset[Capability]
    target_field: str  # the `[[agents]]` key that names the agent upstream
    target_example: str
    build: Callable[[AgentTarget, Wiring], Backend]


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
    "codegpt": BackendKind(CodeGPTSettings, CodeGPTBackend.CAPABILITIES, "agent_id", "the agent's id", _codegpt),
}


def with_default_kind(table: object) -> object:
    """A `[backends.*]` table without `kind` is a CustomGPT backend."""
    if not isinstance(table, dict):
        return table
    values = cast(dict[str, Any], table)
    return values if "kind" in values else {**values, "kind": "customgpt"}


BackendConfig = Annotated[CustomGPTSettings | OpenAISettings | CodeGPTSettings, Field(discriminator="kind")]
"""A `[backends.*]` table: one kind's settings, told apart by `kind` (see `with_default_kind`)."""


def create_client(settings: BackendSettings, name: str = "upstream") -> UpstreamClient:
    """The pooled client for backend `name`, shared by all its agents (and passthrough callers),
    behind the backend's concurrency bound and circuit breaker."""
    guard = BackendGuard(
        name or settings.base_url,
        max_concurrent=settings.max_concurrent_requests,
        queue_timeout=settings.queue_timeout_seconds,
        failure_threshold=settings.breaker_failures,
        open_seconds=settings.breaker_open_seconds,
        failure_ratio=settings.breaker_failure_ratio,
        window_seconds=settings.breaker_window_seconds,
    )
    return UpstreamClient(
        settings.base_url,
        settings.api_key.get_secret_value(),
        timeout=settings.timeout_seconds,
        connect_timeout=settings.connect_timeout_seconds,
        max_connections=settings.max_connections,
        headers=settings.extra_headers(),
        backend=name,
        guard=guard,
    )


def create_backend(
    kind: str,
    target: AgentTarget,
    client: UpstreamClient,
    api_key: str | None = None,
    *,
    settings: BackendSettings | None = None,
    store: ConversationStore | None = None,
    citations: JsonCache | None = None,
) -> Backend:
    """The agent's backend on the shared pool `client`, confined to the agent's own upstream paths;
    `api_key` overrides the configured key (passthrough mode). `settings` are its backend's (for
    conversation limits), `store` the conversation store and `citations` the cited-sources cache to
    share (else its own)."""
    return KINDS[kind].build(target, Wiring(client, api_key, settings, store, citations))


__all__ = [
    "KINDS",
    "AgentTarget",
    "Backend",
    "BackendConfig",
    "BackendKind",
    "BackendSettings",
    "create_backend",
    "create_client",
    "with_default_kind",
]
