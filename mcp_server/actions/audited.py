"""The audit line of one Actions operation, carried from the handler that starts it to whichever step
ends it (for `ask`: the task that runs the answer, however long the caller polls)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mcp_server.audit import AuditLog, Outcome


@dataclass(frozen=True, slots=True)
class Audited:
    """The audit line of one Actions operation, written by whichever step ends it."""

    log: AuditLog | None
    token: str
    agent: str
    operation: str  # the operationId: ask, searchCitations, listSources
    question: str | None

    def record(self, outcome: Outcome, started: float, answer: str | None = None) -> None:
        if self.log is not None:
            self.log.record(
                token=self.token,
                agent=self.agent,
                tool=self.operation,
                outcome=outcome,
                seconds=time.monotonic() - started,
                question=self.question,
                answer=answer,
            )
