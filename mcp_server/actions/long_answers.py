"""How the facade runs `ask` and its continuation (`answers/{answer_id}`).

`ask` starts the answer in a task owned by the app (`LongAnswers.running`, entered by the app's
lifespan through `ActionsFacade.running`), waits at most `actions.answer_wait_seconds`, and answers
either the whole result or `in_progress` with the text so far and an `answer_id`; the upstream stream
goes on meanwhile. The answers wait in an `AnswerStore`: in this process, or in the shared store
(`[store] url`) so any replica can continue them. An answer too long for one response is cut with a
marker that says which `offset` to fetch next.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
from anyio.abc import TaskGroup
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_server.actions.answers import AnswerState, AnswerStore, InProcessAnswers, is_answer_id
from mcp_server.actions.audited import Audited
from mcp_server.actions.catalog import ASK, AnswerOut, GetAnswerArgs
from mcp_server.actions.failures import (
    INTERNAL,
    Failure,
    call_failed,
    deadline_passed,
    invalid_input,
    store_failed,
)
from mcp_server.actions.limits import CUT_MARKER, cut_text, shrink
from mcp_server.actions.shared_answers import SharedAnswers
from mcp_server.agents import Agent, AgentRegistry
from mcp_server.audit import OK, answer_of, outcome_of
from mcp_server.auth import Identity
from mcp_server.config import ActionsConfig
from mcp_server.errors import CallError, StoreUnavailableError
from mcp_server.operations import Call
from mcp_server.operations.models import AskArgs, AskResult

# Logged under the routes' name, as it was before this module was split from mcp_server/actions/routes.py.
logger = logging.getLogger("mcp_server.actions.routes")


class LongAnswers:
    """The answers of `ask` in progress: the tasks that produce them and the store that keeps them."""

    def __init__(
        self,
        settings: ActionsConfig,
        deadline: float,
        registry: Callable[[], AgentRegistry],
        answers: AnswerStore | None = None,
    ) -> None:
        self._settings = settings
        self._deadline = deadline
        self._registry = registry
        self._answers = answers  # None: chosen with the agents (in process, or the `[store] url` server)
        self._tasks: TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """Own the tasks of answers in progress; on exit (shutdown) they are cancelled."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                self._tasks = None
                tasks.cancel_scope.cancel()

    def _answer_store(self) -> AnswerStore:
        """Answers in progress: in this process, or in the shared store so any replica can continue them."""
        if self._answers is None:
            shared = self._registry().state.shared
            settings = self._settings
            self._answers = (
                InProcessAnswers(
                    ttl_seconds=settings.answer_ttl_seconds, max_per_principal=settings.max_answers_per_token
                )
                if shared is None
                else SharedAnswers(
                    shared,
                    ttl_seconds=settings.answer_ttl_seconds,
                    max_per_principal=settings.max_answers_per_token,
                    deadline_seconds=self._deadline,
                )
            )
        return self._answers

    async def ask(self, identity: Identity, agent: Agent, call: Call, args: AskArgs, audited: Audited) -> Response:
        """Start the answer in a task of its own, and answer what it has after the wait."""
        if self._tasks is None:
            raise Failure(503, "The bridge is starting or stopping; retry in a moment.")
        answers = self._answer_store()
        try:
            answer_id = await answers.open(identity.principal, agent.name)
        except StoreUnavailableError as exc:
            raise store_failed(exc) from None
        self._tasks.start_soon(self._produce, answers, answer_id, call, args, audited)
        return await self._answer(identity, agent, answer_id, 0)

    async def _produce(self, answers: AnswerStore, answer_id: str, call: Call, args: AskArgs, audited: Audited) -> None:
        """Run the ask to its end (or the call deadline), keeping its text and outcome in the store; its
        audit line is written when it ends, however long the caller has been polling."""

        async def on_delta(text: str) -> None:
            await answers.append(answer_id, text)

        result: AskResult | None = None
        failure: Failure | None = None
        started = time.monotonic()
        try:
            with anyio.fail_after(self._deadline):
                result = await ASK.operation.run(replace(call, on_delta=on_delta), args)
        except TimeoutError as exc:
            audited.record(outcome_of(exc), started)
            failure = deadline_passed(call.agent, self._deadline)
        except CallError as exc:
            audited.record(outcome_of(exc), started)
            failure = call_failed(exc, call.agent)
        except Exception as exc:
            audited.record(outcome_of(exc), started)
            logger.exception("ask on agent %s failed inside the bridge", call.agent)
            failure = Failure(502, f"Agent '{call.agent}': {INTERNAL}", "internal_error")
        else:
            audited.record(OK, started, answer_of(result))
        try:
            await answers.finish(answer_id, result, failure)
        except StoreUnavailableError as exc:  # nobody can fetch it then; the caller is told when it asks
            logger.warning("answer %s of agent %s not stored: %s", answer_id, call.agent, exc)

    async def get_answer(self, identity: Identity, agent: Agent, request: Request) -> Response:
        """`answers/{answer_id}?offset=N` of a caller already allowed to ask `agent`."""
        answer_id = request.path_params["answer_id"]
        if not is_answer_id(answer_id):
            raise _no_answer()
        try:
            args = GetAnswerArgs.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise invalid_input(exc, "query parameters") from None
        return await self._answer(identity, agent, answer_id, args.offset)

    async def _answer(self, identity: Identity, agent: Agent, answer_id: str, offset: int) -> Response:
        try:
            state = await self._answer_store().wait(
                identity.principal, agent.name, answer_id, self._settings.answer_wait_seconds
            )
        except StoreUnavailableError as exc:
            raise store_failed(exc) from None
        if state is None:
            raise _no_answer()
        if state.failure is not None:
            raise state.failure
        body = _answer_body(state, answer_id, offset)
        return JSONResponse(shrink(body))


def _no_answer() -> Failure:
    return Failure(
        404,
        "No answer with that answer_id for this token (answers belong to the token that asked, and are dropped "
        "a few minutes after they finish). Ask the question again.",
    )


def _answer_body(state: AnswerState, answer_id: str, offset: int) -> dict[str, Any]:
    """The answer from `offset`, cut (with `next_offset`) when it would not fit in one response."""
    result = state.result
    text = result.answer if result is not None else state.text
    out = AnswerOut(
        status="complete" if result is not None else "in_progress",
        answer=text[offset:],
        answer_id=answer_id,
        conversation_id=result.conversation_id if result is not None else None,
        message_id=result.message_id if result is not None else None,
        citations=result.citations if result is not None else [],
    )
    body = out.model_dump(mode="json")
    kept = cut_text(body, "answer", _continue_marker(answer_id))
    if kept is not None:
        body["next_offset"] = offset + kept
        body["answer"] = body["answer"].replace(_continue_marker(answer_id), _continue_marker(answer_id, offset + kept))
    return body


def _continue_marker(answer_id: str, offset: int = 10**9) -> str:
    """What ends a cut answer; the placeholder offset is as wide as any real one, so the cut size holds."""
    return f"\n\n{CUT_MARKER.strip()} Call getAnswer with answer_id={answer_id} and offset={offset} for the rest."
