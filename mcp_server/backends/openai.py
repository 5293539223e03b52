"""Any OpenAI-compatible chat-completions API as a `Backend`: CustomGPT's
`/projects/{id}/chat/completions` layer, proxies exposing custom GPTs as `gpt-4-gizmo-<id>` models
(see `gizmo.py`), local LLM servers. Its agents name a `model` (or a custom GPT by `gpt`).

These APIs have no source or citation endpoints: an agent here offers `ask` (and its transcripts,
from the bridge's memory), and its citations are the ids a CustomGPT-style response lists at top
level, when it lists any.
"""

from __future__ import annotations

from typing import Literal

from mcp_server.backends.chat import COMPLETIONS_PATH, ChatBackend
from mcp_server.backends.memory import ChatBackendSettings, ConversationMemory
from mcp_server.scoped_client import ScopedClient


class OpenAISettings(ChatBackendSettings):
    """`kind = "openai"`: any OpenAI-compatible chat-completions API; its agents name a `model` or `gpt`."""

    kind: Literal["openai"] = "openai"
    base_url: str = "https://api.openai.com/v1"


class OpenAIBackend(ChatBackend):
    def __init__(
        self, client: ScopedClient, model: str, title: str, memory: ConversationMemory, system_prompt: str | None = None
    ) -> None:
        super().__init__(client, {"model": model}, title, memory, system_prompt)


__all__ = ["COMPLETIONS_PATH", "OpenAIBackend", "OpenAISettings"]
