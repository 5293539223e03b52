"""Fault injection: what a real upstream does on a bad day, on demand.

A fault comes from (first match wins) the request header `X-Sandbox-Fault: KIND` (with optional
`X-Sandbox-Latency` / `X-Sandbox-Drip` seconds), a fault armed through the control API
(`POST /_sandbox/faults`), or the process-wide `--fault` / `--latency` / `--drip` flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

FaultKind = Literal[
    "latency",
    "rate-limit",
    "server-error",
    "bad-gateway",
    "unavailable",
    "reset",
    "malformed",
    "truncate",
    "slow",
    "hang",
]
FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)
RETRY_AFTER_SECONDS: Final = 30
STATUS_FAULTS: Final = {"rate-limit": 429, "server-error": 500, "bad-gateway": 502, "unavailable": 503}


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    latency: float = 0.0
    drip: float = 0.0


@dataclass(slots=True)
class ArmedFault:
    fault: Fault
    remaining: int  # -1 = until cleared
    path: re.Pattern[str] | None


class FaultBoard:
    """Faults armed through the control API, consumed by matching requests."""

    def __init__(self, default: Fault | None = None) -> None:
        self.default = default
        self._armed: list[ArmedFault] = []

    def arm(self, fault: Fault, count: int, path: str | None) -> None:
        self._armed.append(ArmedFault(fault, count, re.compile(path) if path else None))

    def clear(self) -> None:
        self._armed.clear()

    def take(self, path: str) -> Fault | None:
        for armed in self._armed:
            if armed.path is None or armed.path.search(path):
                if armed.remaining > 0:
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        self._armed.remove(armed)
                return armed.fault
        return self.default


def from_headers(headers: dict[str, str]) -> Fault | None:
    kind = headers.get("x-sandbox-fault")
    if kind is None:
        return None
    return Fault(
        kind=kind,
        latency=float(headers.get("x-sandbox-latency", "0") or 0),
        drip=float(headers.get("x-sandbox-drip", "0") or 0),
    )
