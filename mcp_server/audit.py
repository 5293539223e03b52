"""An audit line per call, on an opt-in stream (`server.audit_log`): a JSON object with the time, the
token's name, the agent, the tool or operation, the outcome, the duration and the upstream HTTP status
of a failure. Lines come from MCP tool calls, ChatGPT connector `search`/`fetch`, resource reads and
the Actions facade's operations. Never a credential; the question and the answer only when the
operator opts in (`server.audit_content = true`).

`server.audit_log` names a file (appended to, one JSON object a line) or, as `logger:<name>`, a
Python logger the operator routes themselves (at INFO).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from typing import Any, Final

from mcp_server.errors import CallError

AUDIT_LOGGER: Final = "agent_bridge.audit"
_STREAMS: Final = itertools.count()  # one logger per audit file opened

Outcome = tuple[str, int | None]
"""What the audit line says of a call: `ok`, `deadline`, `internal_error` or the error's class name,
and the upstream HTTP status of a failure."""

OK: Final[Outcome] = ("ok", None)


def outcome_of(exc: BaseException) -> Outcome:
    """The audit outcome of a call that raised `exc`."""
    if isinstance(exc, TimeoutError):
        return "deadline", None
    if isinstance(exc, CallError):
        return type(exc).__name__, exc.status
    return "internal_error", None


def question_of(args: object) -> str | None:
    """The question (`ask`) or query (searches) in a call's arguments, if it has one."""
    for field in ("question", "query"):
        value: Any = getattr(args, field, None)
        if isinstance(value, str):
            return value
    return None


def answer_of(result: object) -> str | None:
    """The answer text in a call's result, if it has one (`ask`)."""
    value: Any = getattr(result, "answer", None)
    return value if isinstance(value, str) else None


class AuditLog:
    def __init__(self, logger: logging.Logger, *, content: bool = False) -> None:
        self._logger = logger
        self._content = content  # server.audit_content: also the question and the answer

    @classmethod
    def to(cls, target: str, *, content: bool = False) -> AuditLog:
        """The audit stream `target` names: `logger:<name>`, else a file path."""
        if target.startswith("logger:"):
            return cls(logging.getLogger(target.removeprefix("logger:")), content=content)
        logger = logging.getLogger(f"{AUDIT_LOGGER}.{next(_STREAMS)}")
        logger.setLevel(logging.INFO)
        logger.propagate = False  # audit lines go to their file only, not to stderr
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        return cls(logger, content=content)

    def record(
        self,
        *,
        token: str,
        agent: str,
        tool: str,
        outcome: Outcome,
        seconds: float,
        question: str | None = None,
        answer: str | None = None,
    ) -> None:
        """One line; `question` and `answer` are written only with `server.audit_content` on."""
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "token": token,
            "agent": agent,
            "tool": tool,
            "outcome": outcome[0],
            "duration_ms": round(seconds * 1000),
            "upstream_status": outcome[1],
        }
        if self._content:
            if question is not None:
                line["question"] = question
            if answer is not None:
                line["answer"] = answer
        self._logger.info(json.dumps(line, ensure_ascii=False))
