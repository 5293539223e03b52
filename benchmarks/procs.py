"""Child processes for the benchmarks: started pinned to one CPU core, measured from /proc.

The server under test runs on `SERVER_CORE`; the load generator, the upstream and this harness run on
`CLIENT_CORE`, so the server's figures are not mixed with the load it is given.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mcp_server.launch import OutputTail, wait_for_ready

SERVER_CORE: Final = 1
CLIENT_CORE: Final = 0
ROOT: Final = Path(__file__).resolve().parent.parent
_TICKS: Final = os.sysconf("SC_CLK_TCK")


def pin_self_to_client_core() -> None:
    """Pin this harness (and so every child it starts without `taskset`) to `CLIENT_CORE`."""
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {CLIENT_CORE})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far (all its threads)."""
    return sum(cpu_times(pid))


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system (kernel) CPU time the process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True, slots=True)
class Running:
    url: str  # from the child's ready line, e.g. http://127.0.0.1:PORT
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid


def _wait_for_port(url: str, process: subprocess.Popen[str], timeout: float) -> None:
    host, port = url.removeprefix("http://").split("/", 1)[0].rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{url}: nothing listens there (exit code {process.poll()})") from None
            time.sleep(0.05)


@contextmanager
def running(
    command: Sequence[str], label: str, *, core: int, env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> Generator[Running]:
    """Run COMMAND pinned to CPU `core` until the block ends; it must print a ready line
    (`... ready on URL` or `... serving on URL`, as `agent-bridge` and benchmarks/*peer*.py do)."""
    process = subprocess.Popen(
        ["taskset", "-c", str(core), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert process.stderr is not None
    stderr = OutputTail(process.stderr)
    try:
        url = wait_for_ready(process, label, timeout, stderr)
        _wait_for_port(url, process, timeout)  # some children print their ready line before they bind
        yield Running(url=url, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.text(wait=2)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
