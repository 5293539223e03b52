"""The knobs every benchmark part reads, set once from the command line by benchmarks/run.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Options:
    runs: int  # runs per measurement; the tables show their medians
    seconds: float  # length of one load run
    concurrencies: tuple[int, ...]
    sessions: int  # idle sessions opened per transport for the memory part
    streams: int  # concurrent streamed `ask` calls for the streaming part
    upstream_pool: int  # the bridge backend's max_connections in the streaming part (0: one per stream)
    drip: float  # seconds between the sandbox's answer pieces in the streaming part
    stdio_spawns: int
    work: Path  # a temporary folder for corpora and configs
