"""What chat-completions backends share (`openai.py`, `codegpt.py`): the request body, reading a
completion plain or as `chat.completion.chunk` server-sent events, and the conversation memory the
bridge keeps because these APIs keep none.

The body carries only `messages`, `stream` and the fields that name the agent. Nothing else is ever
sent: CustomGPT's compatibility layer answers 501 to tools, `response_format`, audio, modalities and
web search, and ignores `model` and sampling parameters.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Final, cast

from mcp_server.backends.base import (
    AgentProfile,
    AgentSettings,
    Answer,
    Capability,
    Citation,
    Message,
    OnDelta,
    Transcript,
)
from mcp_server.backends.memory import ConversationMemory, conversation_ended
from mcp_server.errors import UpstreamNotFoundError, UpstreamProtocolError, UpstreamServerError
from mcp_server.scoped_client import ScopedClient
from mcp_server.store import Turn
from mcp_server.upstream_streams import event_json

COMPLETIONS_PATH: Final = "chat/completions"

Completion = tuple[str, str | None, tuple[str, ...]]
"""An answer's text, the upstream's completion id and the citation ids it listed."""


class ChatBackend:
    """One agent behind a chat-completions API. `agent_fields` name it in each request body."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({"ask", "transcripts"})

    def __init__(
        self,
        client: ScopedClient,
        agent_fields: dict[str, str],
        title: str,
        memory: ConversationMemory,
        system_prompt: str | None = None,
    ) -> None:
        self._client = client
        self._agent_fields = dict(agent_fields)
        self._title = title
        self._memory = memory
        self._system_prompt = system_prompt
        self._namespace = "\0".join(f"{k}={v}" for k, v in sorted(agent_fields.items()))

    def _key(self, conversation_id: str) -> str:
        return f"{self._namespace}\0{conversation_id}"

    def _names(self) -> str:
        """How the 404 of a chat request names the agent (the model, or CodeGPT's agent id)."""
        return ", ".join(f"{k} '{v}'" for k, v in self._agent_fields.items() if k in ("model", "agentId"))

    async def profile(self) -> AgentProfile:
        return AgentProfile(title=self._title)

    async def ask(
        self, question: str, conversation_id: str | None, on_delta: OnDelta | None, *, caller: str = ""
    ) -> Answer:
        history = await self._memory.recall(self._key(conversation_id)) if conversation_id else ()
        conversation_id = conversation_id or uuid.uuid4().hex
        system = [{"role": "system", "content": self._system_prompt}] if self._system_prompt else []
        fixed = len(question) + len(self._system_prompt or "")
        past = [
            message
            for turn in self._memory.fit(history, fixed)
            for message in ({"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer})
        ]
        messages = [*system, *past, {"role": "user", "content": question}]
        body: dict[str, Any] = {**self._agent_fields, "messages": messages, "stream": on_delta is not None}
        try:
            text, completion_id, citation_ids = await (
                self._complete(body) if on_delta is None else self._stream(body, on_delta)
            )
        except UpstreamNotFoundError:
            raise UpstreamNotFoundError(
                f"the upstream does not know {self._names()} (HTTP 404). Check the agent's model (or gpt link, "
                "or agent_id) and the backend's base_url.",
                status=404,
            ) from None
        await self._memory.remember(self._key(conversation_id), caller, (*history, Turn(question, text)))
        return Answer(
            text=text,
            conversation_id=conversation_id,
            message_id=completion_id,
            citations=tuple(Citation(id=c) for c in citation_ids),
        )

    async def _complete(self, body: dict[str, Any]) -> Completion:
        return read_completion(await self._client.post_json(COMPLETIONS_PATH, body))

    async def _stream(self, body: dict[str, Any], on_delta: OnDelta) -> Completion:
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

    async def settings(self) -> AgentSettings:
        public: dict[str, Any] = {"model": self._agent_fields["model"]} if "model" in self._agent_fields else {}
        operator: dict[str, Any] = {k: v for k, v in self._agent_fields.items() if k not in public}
        if self._system_prompt:
            operator["system_prompt"] = self._system_prompt
        memory = {
            "conversation_max_turns": self._memory.max_turns,
            "conversation_max_characters": self._memory.max_characters,
            "conversation_idle_minutes": self._memory.idle_minutes,
        }
        return AgentSettings(public={**public, **memory, "streaming": True}, operator=operator)

    async def transcript(self, conversation_id: str) -> Transcript:
        turns = await self._memory.peek(self._key(conversation_id))
        if turns is None:
            raise conversation_ended(self._memory.idle_minutes, shared=self._memory.shared)
        messages = tuple(Message(id=str(i), question=t.question, answer=t.answer) for i, t in enumerate(turns, 1))
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


def read_completion(body: Any) -> Completion:
    """A plain completion's text, id and citation ids (`choices[0].message.content`; CodeGPT's
    `choices[0].message.completion` too)."""
    if not isinstance(body, dict):
        raise UpstreamProtocolError("the upstream's completion is not a JSON object. Check the backend's base_url.")
    completion: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
    for choice in _choices(completion):
        message = choice.get("message")
        if isinstance(message, dict):
            fields = cast(dict[str, Any], message)
            text = fields.get("content") if isinstance(fields.get("content"), str) else fields.get("completion")
            if isinstance(text, str):
                return text, _str(completion.get("id")), _citation_ids(completion)
    raise UpstreamProtocolError(
        "the upstream's completion has no choices[0].message.content. Check that base_url is an OpenAI-compatible API."
    )
