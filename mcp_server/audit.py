"""An audit line per tool call, on an opt-in stream (`server.audit_log`): a JSON object with the time,
the token's name, the agent, the tool, the outcome, the duration and the upstream HTTP status of a
failure. Never the question or the answer, nor any credential.

`server.audit_log` names a file (appended to, one JSON object a line) or, as `logger:<name>`, a
Python logger the operator routes themselves (at INFO).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from typing import Final

AUDIT_LOGGER: Final = "agent_bridge.audit"
_STREAMS: Final = itertools.count()  # one logger per audit file opened


class AuditLog:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    @classmethod
    def to(cls, target: str) -> AuditLog:
        """The audit stream `target` names: `logger:<name>`, else a file path."""
        if target.startswith("logger:"):
            return cls(logging.getLogger(target.removeprefix("logger:")))
        logger = logging.getLogger(f"{AUDIT_LOGGER}.{next(_STREAMS)}")
        logger.setLevel(logging.INFO)
        logger.propagate = False  # audit lines go to their file only, not to stderr
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        return cls(logger)

    def record(
        self, *, token: str, agent: str, tool: str, outcome: str, seconds: float, upstream_status: int | None
    ) -> None:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "token": token,
            "agent": agent,
            "tool": tool,
            "outcome": outcome,
            "duration_ms": round(seconds * 1000),
            "upstream_status": upstream_status,
        }
        self._logger.info(json.dumps(line, ensure_ascii=False))
