"""Answers in progress: an `ask` that outlives one Actions call keeps running in the bridge, and its
text so far, then its result, wait here for the caller to fetch them with `answers/{answer_id}`.

`AnswerStore` is the small interface the facade uses; `InProcessAnswers` keeps answers in this
process (a replica or another worker does not see them; a shared store can implement the same
interface). An answer belongs to the principal and agent that started it: anyone else is told there
is no such answer. A finished answer stays fetchable (a client may retry a lost response, or page
through a long answer) until `ttl` seconds after it finished; then it is dropped. The cap counts the
answers a principal has running.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Final, Protocol

import anyio

from mcp_server.actions.failures import Failure
from mcp_server.errors import Refusal
from mcp_server.operations.models import AskResult

ANSWER_ID: Final = re.compile(r"[0-9a-f]{32}")
"""The bridge's own answer ids: 128 random bits as 32 lowercase hex digits."""


def is_answer_id(value: str) -> bool:
    return ANSWER_ID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class AnswerState:
    """An answer as it stands: its text so far, and once finished its result or its failure."""

    text: str
    result: AskResult | None = None
    failure: Failure | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None or self.failure is not None


class AnswerStore(Protocol):
    async def open(self, principal: str, agent: str) -> str:
        """A new answer id for `principal` on `agent`; `Refusal(429)` when the principal holds its cap."""
        ...

    async def append(self, answer_id: str, text: str) -> None: ...

    async def finish(self, answer_id: str, result: AskResult | None, failure: Failure | None) -> None: ...

    async def wait(self, principal: str, agent: str, answer_id: str, seconds: float) -> AnswerState | None:
        """The answer after it finishes or `seconds` pass, whichever is first; None when `principal` has
        no such answer on `agent` (never started, someone else's, or expired)."""
        ...


@dataclass(slots=True)
class _Entry:
    principal: str
    agent: str
    pieces: list[str] = field(default_factory=list[str])
    result: AskResult | None = None
    failure: Failure | None = None
    done: anyio.Event = field(default_factory=anyio.Event)
    finished_at: float | None = None

    def state(self) -> AnswerState:
        return AnswerState("".join(self.pieces), self.result, self.failure)


class InProcessAnswers:
    def __init__(self, *, ttl_seconds: float, max_per_principal: int) -> None:
        self._ttl = ttl_seconds
        self._cap = max_per_principal
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self) -> None:
        now = anyio.current_time()
        for answer_id, entry in list(self._entries.items()):
            if entry.finished_at is not None and now - entry.finished_at > self._ttl:
                del self._entries[answer_id]

    async def open(self, principal: str, agent: str) -> str:
        self._expire()
        running = sum(1 for e in self._entries.values() if e.principal == principal and e.finished_at is None)
        if running >= self._cap:
            raise Refusal(
                429,
                f"This token already has {running} answers in progress (the limit is {self._cap}). Wait for them "
                "to finish (getAnswer), then ask again.",
            )
        answer_id = secrets.token_hex(16)
        self._entries[answer_id] = _Entry(principal, agent)
        return answer_id

    async def append(self, answer_id: str, text: str) -> None:
        entry = self._entries.get(answer_id)
        if entry is not None:
            entry.pieces.append(text)

    async def finish(self, answer_id: str, result: AskResult | None, failure: Failure | None) -> None:
        entry = self._entries.get(answer_id)
        if entry is not None:
            entry.result, entry.failure = result, failure
            entry.finished_at = anyio.current_time()
            entry.done.set()

    async def wait(self, principal: str, agent: str, answer_id: str, seconds: float) -> AnswerState | None:
        self._expire()
        entry = self._entries.get(answer_id)
        if entry is None or entry.principal != principal or entry.agent != agent:
            return None
        with anyio.move_on_after(seconds):
            await entry.done.wait()
        return entry.state()
