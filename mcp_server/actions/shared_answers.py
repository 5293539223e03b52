"""Answers in progress in the shared store (`[store] url`): the replica that runs an `ask` writes its
text and outcome there, and `answers/{answer_id}` on any replica reads them.

Keys, all expiring: `agent-bridge:answer:<id>` (a hash: owner, agent, and once finished the result or
the failure as JSON), `agent-bridge:answer-text:<id>` (the text so far, appended piece by piece) and
`agent-bridge:answers-running:<owner digest>` (a sorted set of the owner's running answers, by start
time, for the cap). A waiting caller polls the hash, a few times a second at most, until the answer
finishes or its wait is over; an answer whose replica died mid-answer expires with its keys.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from typing import Any, Final, cast

import anyio

from mcp_server.actions.answers import AnswerState
from mcp_server.actions.failures import Failure
from mcp_server.errors import Refusal
from mcp_server.operations.models import AskResult
from mcp_server.store import SharedStore
from mcp_server.store.shared import digest

POLL_FIRST_SECONDS: Final = 0.05
POLL_MAX_SECONDS: Final = 0.5


class SharedAnswers:
    def __init__(
        self, store: SharedStore, *, ttl_seconds: float, max_per_principal: int, deadline_seconds: float
    ) -> None:
        self._store = store
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._cap = max_per_principal
        self._running_for = deadline_seconds + 60  # an answer running longer belongs to a replica that died
        self._lives_ms = int((self._running_for + ttl_seconds) * 1000)

    @staticmethod
    def _keys(answer_id: str) -> tuple[str, str]:
        return SharedStore.key("answer", answer_id), SharedStore.key("answer-text", answer_id)

    @staticmethod
    def _running(principal: str) -> str:
        return SharedStore.key("answers-running", digest(principal))

    async def open(self, principal: str, agent: str) -> str:
        now, running = time.time(), self._running(principal)
        answer_id = secrets.token_hex(16)
        meta, text = self._keys(answer_id)
        async with self._store.reaching() as client:
            async with client.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(running, "-inf", now - self._running_for)
                pipe.zcard(running)
                count = cast(int, (await pipe.execute())[1])
            if count >= self._cap:
                raise Refusal(
                    429,
                    f"This token already has {count} answers in progress (the limit is {self._cap}). Wait for them "
                    "to finish (getAnswer), then ask again.",
                )
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(meta, mapping={"owner": digest(principal), "agent": agent})
                pipe.pexpire(meta, self._lives_ms)
                pipe.set(text, b"", px=self._lives_ms)
                pipe.zadd(running, {answer_id: now})
                pipe.pexpire(running, self._lives_ms)
                await pipe.execute()
        return answer_id

    async def append(self, answer_id: str, text: str) -> None:
        async with self._store.reaching() as client:
            await client.append(self._keys(answer_id)[1], text.encode())

    async def finish(self, answer_id: str, result: AskResult | None, failure: Failure | None) -> None:
        meta, text = self._keys(answer_id)
        outcome = {"result": result.model_dump_json()} if result is not None else {}
        if failure is not None:
            outcome["failure"] = json.dumps(dataclasses.asdict(failure))
        async with self._store.reaching() as client:
            owner = await client.hget(meta, "owner")
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(meta, mapping={**outcome, "finished": "1"})
                pipe.pexpire(meta, self._ttl_ms)
                pipe.pexpire(text, self._ttl_ms)
                if isinstance(owner, bytes):
                    pipe.zrem(SharedStore.key("answers-running", owner.decode()), answer_id)
                await pipe.execute()

    async def _read(self, answer_id: str) -> tuple[dict[bytes, bytes], bytes]:
        meta, text = self._keys(answer_id)
        async with self._store.reaching() as client, client.pipeline(transaction=True) as pipe:
            pipe.hgetall(meta)
            pipe.get(text)
            fields, body = await pipe.execute()
        return cast(dict[bytes, bytes], fields), cast(bytes | None, body) or b""

    async def wait(self, principal: str, agent: str, answer_id: str, seconds: float) -> AnswerState | None:
        deadline, pause = anyio.current_time() + seconds, POLL_FIRST_SECONDS
        while True:
            fields, body = await self._read(answer_id)
            if fields.get(b"owner") != digest(principal).encode() or fields.get(b"agent") != agent.encode():
                return None
            left = deadline - anyio.current_time()
            if b"finished" in fields or left <= 0:
                return _state(fields, body)
            await anyio.sleep(min(pause, left))
            pause = min(pause * 2, POLL_MAX_SECONDS)


def _state(fields: dict[bytes, bytes], body: bytes) -> AnswerState:
    result = AskResult.model_validate_json(fields[b"result"]) if b"result" in fields else None
    failure: Failure | None = None
    if b"failure" in fields:
        failure = Failure(**cast(dict[str, Any], json.loads(fields[b"failure"])))
    return AnswerState(body.decode("utf-8", errors="replace"), result, failure)
