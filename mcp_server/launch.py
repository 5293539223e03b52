"""Start an `agent-bridge` subcommand as a child process and wait for its ready line.

The sandbox prints `agent-bridge sandbox ready on http://HOST:PORT` and `serve` prints
`agent-bridge serving on http://HOST:PORT`; both bind port 0 here, so the line is how the parent
learns the real port. Used by `agent-bridge demo` and by the tests.

Only the last `TAIL_LINES` lines of the child's stdout and stderr are kept: when the child fails to
become ready, they are what the error reports.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Final

from mcp_server.errors import BridgeError

_READY = re.compile(r"(?:ready on|serving on) (http://\S+)")
TAIL_LINES: Final = 50
_TAIL_CHARS: Final = 4000  # per stream, in an error message


@dataclass(frozen=True, slots=True)
class ChildProcess:
    url: str
    process: subprocess.Popen[str]


class OutputTail:
    """The last `TAIL_LINES` lines of one of a child's output pipes, read (and optionally passed
    through to `echo`) by a daemon thread, so the pipe never fills up."""

    def __init__(self, stream: IO[str], echo: IO[str] | None = None, keep: int = TAIL_LINES) -> None:
        self.lines: deque[str] = deque(maxlen=keep)
        self._stream = stream
        self._echo = echo
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line)
            if self._echo is not None:
                self._echo.write(line)
                self._echo.flush()

    def text(self, wait: float = 5.0) -> str:
        """The tail, once the child has closed the pipe (waiting at most `wait` seconds for that)."""
        self._reader.join(wait)
        return _shown(self.lines)


def _shown(lines: deque[str]) -> str:
    return "".join(list(lines))[-_TAIL_CHARS:].rstrip() or "(nothing)"


def wait_for_ready(process: subprocess.Popen[str], label: str, timeout: float, stderr: OutputTail | None = None) -> str:
    """The URL from the child's ready line. Without one within `timeout` (or if the child exits first),
    the child is killed and a `BridgeError` reports the tails of its stdout and stderr (`stderr`, or the
    child's stderr pipe if it has one)."""
    assert process.stdout is not None
    if stderr is None and process.stderr is not None:
        stderr = OutputTail(process.stderr)
    found: list[str] = []
    seen: deque[str] = deque(maxlen=TAIL_LINES)

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
        exit_code = process.poll()
        if exit_code is None and not reader.is_alive():  # stdout closed: the child is exiting, let it finish
            with contextlib.suppress(subprocess.TimeoutExpired):
                exit_code = process.wait(timeout=5)
        process.kill()
        process.wait(timeout=5)
        reader.join(5)  # the rest of stdout, now that the child is gone
        what = (
            f"exited with code {exit_code}" if exit_code is not None else f"did not become ready within {timeout:g} s"
        )
        raise BridgeError(
            f"`agent-bridge {label}` {what} without printing its ready line.\n"
            f"--- last lines on its stdout ---\n{_shown(seen)}\n"
            f"--- last lines on its stderr ---\n{stderr.text() if stderr is not None else '(not captured)'}"
        )
    # Keep draining stdout so a chatty child never blocks on a full pipe; nothing more is kept.
    OutputTail(process.stdout, keep=0)
    return found[0]


@contextmanager
def running(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 20.0, quiet: bool = False
) -> Generator[ChildProcess]:
    """Run `python -m mcp_server ARGS`, yield once it is ready, terminate it on exit.

    The child's stderr is passed through to ours unless `quiet`; its last lines are kept either way,
    for the error raised if the child never becomes ready.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_server", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stderr is not None
    stderr = OutputTail(process.stderr, echo=None if quiet else sys.stderr)
    try:
        yield ChildProcess(url=wait_for_ready(process, args[0], timeout, stderr), process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.text(wait=2)  # the child is gone: its pipes are at end of file
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
