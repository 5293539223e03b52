"""Chat-completions APIs as a `Backend`: any OpenAI-compatible one (CustomGPT's
`/projects/{id}/chat/completions` layer, proxies exposing custom GPTs as `gpt-4-gizmo-<id>` models,
local LLM servers) and CodeGPT's agents API, which differs only in naming the agent by `agentId`.

These APIs keep no conversations, so the bridge keeps each conversation's recent turns in memory
(they end when the bridge restarts) and sends them with every question. They have no source or
citation endpoints: an agent on this backend offers `ask` only, and its citations are the ids a
CustomGPT-style response lists at top level, when it lists any.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any, ClassVar, Final, Literal, cast

from mcp_server.backends.base import (
    AgentProfile,
    AgentSettings,
    Answer,
    BackendSettings,
    Capability,
    Citation,
    Message,
    OnDelta,
    Transcript,
)
from mcp_server.errors import UpstreamNotFoundError, UpstreamProtocolError, UpstreamServerError
from mcp_server.upstream import ScopedClient, event_json

HISTORY_MESSAGES: Final = 20
MAX_CONVERSATIONS: Final = 10_000
MAX_CONVERSATIONS_PER_CALLER: Final = 1_000
COMPLETIONS_PATH: Final = "chat/completions"


class OpenAISettings(BackendSettings):
    """`kind = "openai"`: any OpenAI-compatible chat-completions API; its agents name a `model`."""

    kind: Literal["openai"] = "openai"
    base_url: str = "https://api.openai.com/v1"


class CodeGPTSettings(BackendSettings):
    """`kind = "codegpt"`: CodeGPT's agents API; its agents name an `agent_id`."""

    kind: Literal["codegpt"] = "codegpt"
    base_url: str = "https://api.codegpt.co/api/v1"


class OpenAIBackend:
    """`agent_fields` name the agent in each request: `{"model": ...}` for OpenAI-compatible APIs,
    `{"agentId": ..., "format": "json"}` for CodeGPT, whose chat API has the same shape otherwise."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({"ask", "transcripts"})

    def __init__(
        self, client: ScopedClient, agent_fields: dict[str, str], title: str, system_prompt: str | None = None
    ) -> None:
        self._client = client
        self._agent_fields = dict(agent_fields)
        self._title = title
        self._system_prompt = system_prompt
        self._conversations: OrderedDict[str, list[dict[str, str]]] = OrderedDict()
        self._owners: dict[str, OrderedDict[str, None]] = {}  # caller -> its conversations, oldest first

    async def profile(self) -> AgentProfile:
        return AgentProfile(title=self._title)

    async def ask(
        self, question: str, conversation_id: str | None, on_delta: OnDelta | None, *, caller: str = ""
    ) -> Answer:
        if conversation_id is not None and conversation_id not in self._conversations:
            raise UpstreamNotFoundError(
                f"no conversation {conversation_id} on this bridge (conversations with OpenAI-compatible agents "
                "live in the bridge's memory and end when it restarts). Ask without conversation_id to start anew."
            )
        conversation_id = conversation_id or uuid.uuid4().hex
        history = self._conversations.get(conversation_id, [])
        system = [{"role": "system", "content": self._system_prompt}] if self._system_prompt else []
        messages = [*system, *history, {"role": "user", "content": question}]
        body: dict[str, Any] = {**self._agent_fields, "messages": messages, "stream": on_delta is not None}
        try:
            if on_delta is None:
                reply = await self._client.post_json(COMPLETIONS_PATH, body)
                text, completion_id, citation_ids = _read_completion(reply)
            else:
                text, completion_id, citation_ids = await self._stream(body, on_delta)
        except UpstreamNotFoundError:
            named = ", ".join(f"{k} '{v}'" for k, v in self._agent_fields.items() if k in ("model", "agentId"))
            raise UpstreamNotFoundError(
                f"the upstream does not know {named} (HTTP 404). Check the agent's model (or gpt link, or agent_id) "
                "and the backend's base_url.",
                status=404,
            ) from None
        self._remember(caller, conversation_id, [*history, messages[-1], {"role": "assistant", "content": text}])
        return Answer(
            text=text,
            conversation_id=conversation_id,
            message_id=completion_id,
            citations=tuple(Citation(id=c) for c in citation_ids),
        )

    async def _stream(self, body: dict[str, Any], on_delta: OnDelta) -> tuple[str, str | None, tuple[str, ...]]:
        pieces: list[str] = []
        completion_id: str | None = None
        citation_ids: tuple[str, ...] = ()
        async with self._client.stream_events(COMPLETIONS_PATH, body) as events:
            async for event in events:
                if event.data.strip() == "[DONE]":
                    return "".join(pieces), completion_id, citation_ids
                if not event.data.strip():
                    continue
                chunk = event_json(event)
                if "error" in chunk:
                    raise UpstreamServerError(f"the upstream failed while answering ({_error_text(chunk)}). Retry.")
                completion_id = completion_id or _str(chunk.get("id"))
                citation_ids = _citation_ids(chunk) or citation_ids
                for choice in _choices(chunk):
                    delta = choice.get("delta")
                    content = cast(dict[str, Any], delta).get("content") if isinstance(delta, dict) else None
                    if isinstance(content, str) and content:
                        pieces.append(content)
                        await on_delta(content)
        raise UpstreamProtocolError(
            "the upstream's answer stream ended before [DONE]; the answer may be incomplete. Retry the question."
        )

    def _remember(self, caller: str, conversation_id: str, messages: list[dict[str, str]]) -> None:
        """Keep the conversation's last turns. One caller keeps at most `MAX_CONVERSATIONS_PER_CALLER`
        (its own oldest go first), so no caller can push everyone else's conversations out."""
        self._conversations[conversation_id] = messages[-HISTORY_MESSAGES:]
        self._conversations.move_to_end(conversation_id)
        owned = self._owners.setdefault(caller, OrderedDict())
        owned[conversation_id] = None
        owned.move_to_end(conversation_id)
        while len(owned) > MAX_CONVERSATIONS_PER_CALLER:
            self._conversations.pop(owned.popitem(last=False)[0], None)
        while len(self._conversations) > MAX_CONVERSATIONS:
            oldest, _ = self._conversations.popitem(last=False)
            for name, other in list(self._owners.items()):
                other.pop(oldest, None)
                if not other:
                    del self._owners[name]

    async def settings(self) -> AgentSettings:
        public = {"model": self._agent_fields["model"]} if "model" in self._agent_fields else {}
        operator: dict[str, Any] = {k: v for k, v in self._agent_fields.items() if k not in public}
        if self._system_prompt:
            operator["system_prompt"] = self._system_prompt
        return AgentSettings(
            public={**public, "conversation_memory_messages": HISTORY_MESSAGES, "streaming": True}, operator=operator
        )

    async def transcript(self, conversation_id: str) -> Transcript:
        history = self._conversations.get(conversation_id)
        if history is None:
            raise UpstreamNotFoundError(f"no conversation {conversation_id} on this bridge.", status=404)
        turns = [m for m in history if m["role"] in ("user", "assistant")]
        messages = tuple(
            Message(id=str(i // 2 + 1), question=q["content"], answer=a["content"])
            for i, (q, a) in enumerate(zip(turns[::2], turns[1::2], strict=False))
        )
        return Transcript(conversation_id=conversation_id, name=None, messages=messages)


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


def _choices(body: dict[str, Any]) -> list[dict[str, Any]]:
    choices = body.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []  # pyright: ignore[reportUnknownVariableType]


def _citation_ids(body: dict[str, Any]) -> tuple[str, ...]:
    raw = body.get("citations")
    return tuple(str(c) for c in cast(list[Any], raw) if c is not None) if isinstance(raw, list) else ()


def _error_text(body: dict[str, Any]) -> str:
    error = body.get("error")
    return str(cast(dict[str, Any], error).get("message") if isinstance(error, dict) else error)


def _read_completion(body: Any) -> tuple[str, str | None, tuple[str, ...]]:
    if not isinstance(body, dict):
        raise UpstreamProtocolError("the upstream's completion is not a JSON object. Check the backend's base_url.")
    completion: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
    for choice in _choices(completion):
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):  # pyright: ignore[reportUnknownMemberType]
            return str(message["content"]), _str(completion.get("id")), _citation_ids(completion)  # pyright: ignore[reportUnknownArgumentType]
    raise UpstreamProtocolError(
        "the upstream's completion has no choices[0].message.content. Check that base_url is an OpenAI-compatible API."
    )
