"""Backends: one module per upstream kind behind the `Backend` interface of `base.py`."""

from __future__ import annotations

from mcp_server.backends.base import Backend
from mcp_server.backends.customgpt import CustomGPTBackend
from mcp_server.backends.openai import OpenAIBackend
from mcp_server.config import AgentConfig, BackendConfig
from mcp_server.http import UpstreamClient


def create_client(config: BackendConfig, api_key: str | None = None) -> UpstreamClient:
    """The pooled client for one backend; `api_key` overrides the configured key (passthrough mode)."""
    return UpstreamClient(
        config.base_url,
        api_key if api_key is not None else config.api_key.get_secret_value(),
        timeout=config.timeout_seconds,
        connect_timeout=config.connect_timeout_seconds,
        max_connections=config.max_connections,
    )


def create_backend(backend: BackendConfig, agent: AgentConfig, client: UpstreamClient) -> Backend:
    match backend.kind:
        case "customgpt":
            assert agent.project_id is not None  # the config validator requires it
            return CustomGPTBackend(client, agent.project_id)
        case "openai":
            assert agent.model is not None  # the config validator requires it
            return OpenAIBackend(client, {"model": agent.model}, agent.model, agent.system_prompt)
        case "codegpt":
            assert agent.agent_id is not None  # the config validator requires it
            fields = {"agentId": agent.agent_id, "format": "json"}
            return OpenAIBackend(client, fields, f"CodeGPT agent {agent.agent_id}", agent.system_prompt)


__all__ = ["Backend", "create_backend", "create_client"]
