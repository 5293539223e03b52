"""Fault injection: what a real upstream does on a bad day, on demand.

A request's fault comes from (first match wins) the request header `X-Sandbox-Fault: KIND` (with
optional `X-Sandbox-Latency` / `X-Sandbox-Drip` seconds; either header alone implies `latency` /
`slow`), a fault armed through the control API (`POST /_sandbox/faults`), or the process-wide
`--fault KIND`. The process-wide `--latency` / `--drip` apply to every request on top of that.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
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
ALIASES: Final = {"timeout": "hang", "drip": "slow"}
FAULT_KINDS: Final[tuple[str, ...]] = (*get_args(FaultKind), *ALIASES)
RETRY_AFTER_SECONDS: Final = 30
UNAVAILABLE_RETRY_AFTER_SECONDS: Final = 1
DEFAULT_LATENCY: Final = 1.0  # `latency` armed without seconds
DEFAULT_DRIP: Final = 0.25  # `slow` armed without seconds
STATUS_FAULTS: Final = {"rate-limit": 429, "server-error": 500, "bad-gateway": 502, "unavailable": 503}


class UnknownFault(ValueError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    latency: float = 0.0
    drip: float = 0.0


def make_fault(kind: str, latency: float = 0.0, drip: float = 0.0) -> Fault:
    """A fault with aliases resolved and the default seconds filled in; raises UnknownFault."""
    kind = ALIASES.get(kind, kind)
    if kind not in FAULT_KINDS:
        raise UnknownFault(kind)
    if latency < 0 or drip < 0:
        raise ValueError("latency and drip must not be negative")
    if kind == "latency" and not latency:
        latency = DEFAULT_LATENCY
    if kind == "slow" and not drip:
        drip = DEFAULT_DRIP
    return Fault(kind, latency, drip)


@dataclass(slots=True)
class ArmedFault:
    fault: Fault
    remaining: int  # -1 = until cleared
    path: re.Pattern[str] | None


class FaultBoard:
    """Faults armed through the control API, consumed by matching requests in the order armed."""

    def __init__(self, default: Fault | None = None) -> None:
        self.default = default
        self._armed: list[ArmedFault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault, count: int, path: str | None) -> None:
        if count == 0 or count < -1:
            raise ValueError("count must be a positive number of requests, or -1 for until cleared")
        try:
            pattern = re.compile(path) if path else None
        except re.error as exc:
            raise ValueError(f"path is not a valid regular expression: {exc}") from None
        with self._lock:
            self._armed.append(ArmedFault(fault, count, pattern))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for armed in self._armed:
                if armed.path is None or armed.path.search(path):
                    if armed.remaining > 0:
                        armed.remaining -= 1
                        if armed.remaining == 0:
                            self._armed.remove(armed)
                    return armed.fault
        return self.default


def _seconds(raw: str | None) -> float:
    try:
        return max(0.0, float(raw or 0))
    except ValueError:
        return 0.0


def from_headers(headers: Mapping[str, str]) -> Fault | None:
    """The fault a request asks for with `X-Sandbox-*` headers, if any; raises UnknownFault."""
    kind = headers.get("x-sandbox-fault")
    latency = _seconds(headers.get("x-sandbox-latency"))
    drip = _seconds(headers.get("x-sandbox-drip"))
    if kind is None:
        if drip:
            kind = "slow"
        elif latency:
            kind = "latency"
        else:
            return None
    return make_fault(kind.strip().lower(), latency, drip)
