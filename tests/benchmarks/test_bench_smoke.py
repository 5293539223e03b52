"""The benchmark harness still runs against today's bridge: `benchmarks/run.py` opens idle sessions on
both transports and spawns `agent-bridge stdio`, and prints its tables. A small, fast run (no figure is
asserted: the numbers belong to the benchmark, not to a test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_memory_and_stdio_parts_print_their_tables() -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--only", "memory,stdio"]
    command += ["--quick", "--sessions", "10", "--spawns", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "### memory per idle session" in out
    assert re.search(r"\| agent-bridge \| Streamable HTTP \(stateful\) \| 10 +\| -?\d+\.\d", out), out
    assert re.search(r"\| agent-bridge \| HTTP\+SSE +\| 10 +\| -?\d+\.\d", out), out
    assert re.search(r"\| agent-bridge stdio \(env mode\) \| 1 +\| \d+\.\d{3}", out), out
    assert "### targets (issue 11)" in out
