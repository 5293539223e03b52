"""Start an `agent-bridge` subcommand as a child process and wait for its ready line.

The sandbox prints `agent-bridge sandbox ready on http://HOST:PORT` and `serve` prints
`agent-bridge serving on http://HOST:PORT`; both bind port 0 here, so the line is how the parent
learns the real port. Used by `agent-bridge demo` and by the tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from mcp_server.errors import BridgeError

_READY = re.compile(r"(?:ready on|serving on) (http://\S+)")


@dataclass(frozen=True, slots=True)
class ChildProcess:
    url: str
    process: subprocess.Popen[str]


def _wait_for_ready(process: subprocess.Popen[str], label: str, timeout: float) -> str:
    assert process.stdout is not None
    found: list[str] = []
    seen: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            match = _READY.search(line)
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        process.kill()
        _, err = process.communicate(timeout=5)
        raise BridgeError(
            f"`agent-bridge {label}` did not become ready within {timeout:g} s; "
            f"it printed: {''.join(seen)[-2000:]} {(err or '')[-2000:]}"
        )
    # Keep draining stdout so a chatty child never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
    return found[0]


@contextmanager
def running(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 20.0, quiet: bool = False
) -> Generator[ChildProcess]:
    """Run `python -m mcp_server ARGS`, yield once it is ready, terminate it on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_server", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield ChildProcess(url=_wait_for_ready(process, args[0], timeout), process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
