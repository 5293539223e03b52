"""The sandbox upstream as a real child process, with its control API for faults and stats.

`running_sandbox()` starts `python -m mcp_server sandbox --port 0 ...`, waits for its ready line
(`agent-bridge sandbox ready on http://HOST:PORT`) and stops it with SIGTERM (then SIGKILL) on exit.
Usable from sync and async tests alike; the helpers use a short-lived sync httpx2 client.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import httpx2

READY = re.compile(r"^agent-bridge sandbox ready on (http://\S+)$")
READY_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class SandboxProcess:
    url: str  # e.g. http://127.0.0.1:PORT
    api_key: str
    process: subprocess.Popen[str] | None = field(default=None, compare=False, repr=False)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def arm_fault(self, kind: str, count: int = 1, path: str | None = None, **extra: float) -> None:
        """Arm KIND for the next COUNT (-1: all) requests whose path matches the PATH regex."""
        body: dict[str, Any] = {"kind": kind, "count": count, "path": path, **extra}
        httpx2.post(f"{self.url}/_sandbox/faults", json=body, headers=self.headers).raise_for_status()

    def clear_faults(self) -> None:
        httpx2.delete(f"{self.url}/_sandbox/faults", headers=self.headers).raise_for_status()

    def reset_stats(self) -> None:
        """Zero the counters, `paths` (the raw path of every request received) included."""
        httpx2.delete(f"{self.url}/_sandbox/stats", headers=self.headers).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = httpx2.get(f"{self.url}/_sandbox/stats", headers=self.headers)
        response.raise_for_status()
        return response.json()


def _read_ready_line(stdout: IO[str], found: list[str], seen: list[str], ready: threading.Event) -> None:
    for line in stdout:
        seen.append(line)
        match = READY.match(line.strip())
        if match:
            found.append(match.group(1))
            break
    ready.set()  # found, or stdout closed (the child exited)
    for _ in stdout:  # keep draining so the child never blocks on a full pipe
        pass


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    """A loopback port nobody listens on right now (for a child that must know its URL before it starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _close_pipes(process: subprocess.Popen[str]) -> None:
    """Close our ends of the child's pipes once it has exited (its reader thread then sees EOF)."""
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


@contextmanager
def running_sandbox(*extra_args: str, api_key: str = "sandbox-key") -> Generator[SandboxProcess]:
    """Run `agent-bridge sandbox --port 0 --api-key KEY EXTRA_ARGS...` until the block ends."""
    command = [sys.executable, "-m", "mcp_server", "sandbox", "--port", "0", "--api-key", api_key, *extra_args]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            assert process.stdout is not None
            found: list[str] = []
            seen: list[str] = []
            ready = threading.Event()
            reader = threading.Thread(target=_read_ready_line, args=(process.stdout, found, seen, ready), daemon=True)
            reader.start()
            ready.wait(READY_TIMEOUT)
            if not found:
                _stop(process)
                stderr.seek(0)
                raise RuntimeError(
                    f"`{' '.join(command[1:])}` printed no ready line within {READY_TIMEOUT:g} s "
                    f"(exit code {process.poll()}); stdout: {''.join(seen)[-2000:]!r}; stderr: {stderr.read()[-4000:]}"
                )
            yield SandboxProcess(url=found[0], api_key=api_key, process=process)
        finally:
            _stop(process)
            _close_pipes(process)
