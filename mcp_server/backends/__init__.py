"""Backends: one module per upstream kind behind the `Backend` interface of `base.py`."""

from __future__ import annotations

from mcp_server.backends.base import Backend
from mcp_server.backends.customgpt import CustomGPTBackend
from mcp_server.backends.openai import COMPLETIONS_PATH, OpenAIBackend
from mcp_server.config import AgentConfig, BackendConfig
from mcp_server.upstream import UpstreamClient


def create_client(config: BackendConfig) -> UpstreamClient:
    """The pooled client for one backend, shared by all its agents (and passthrough callers)."""
    return UpstreamClient(
        config.base_url,
        config.api_key.get_secret_value(),
        timeout=config.timeout_seconds,
        connect_timeout=config.connect_timeout_seconds,
        max_connections=config.max_connections,
    )


def create_backend(
    backend: BackendConfig, agent: AgentConfig, client: UpstreamClient, api_key: str | None = None
) -> Backend:
    """The agent's backend on the shared pool `client`, confined to the agent's own upstream paths;
    `api_key` overrides the configured key (passthrough mode)."""
    match backend.kind:
        case "customgpt":
            assert agent.project_id is not None  # the config validator requires it
            scoped = client.scoped(f"api/v1/projects/{agent.project_id}", api_key)
            return CustomGPTBackend(scoped, agent.project_id)
        case "openai":
            assert agent.model is not None  # the config validator requires it
            scoped = client.scoped(COMPLETIONS_PATH, api_key)
            return OpenAIBackend(scoped, {"model": agent.model}, agent.model, agent.system_prompt)
        case "codegpt":
            assert agent.agent_id is not None  # the config validator requires it
            fields = {"agentId": agent.agent_id, "format": "json"}
            scoped = client.scoped(COMPLETIONS_PATH, api_key)
            return OpenAIBackend(scoped, fields, f"CodeGPT agent {agent.agent_id}", agent.system_prompt)


__all__ = ["Backend", "create_backend", "create_client"]
