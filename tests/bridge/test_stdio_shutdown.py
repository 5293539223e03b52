"""`agent-bridge stdio` leaves promptly and cleanly: on SIGTERM/SIGINT and at end of input, with exit code 0,
after closing its upstream connections (no forced exit that skips cleanup)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.support.bridge_stdio import spawn_stdio
from tests.support.sandbox_process import SandboxProcess

INITIALIZE = (
    b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
    b'"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}\n'
)
STOPPED = "stdio server stopped"  # logged at info once the upstream connection pools are closed


def _close(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def _serving(process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(INITIALIZE)
    process.stdin.flush()
    assert b'"id":1' in process.stdout.readline()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_stdio_at_once_after_cleanup(sandbox: SandboxProcess, sig: signal.Signals) -> None:
    """The stdin reader blocked in a read does not hold the process: it exits soon after the signal (without
    the fix it waits for stdin to close, i.e. forever), with 0, having logged that it stopped (its cleanup ran).
    The bound is loose on purpose: a busy CI machine takes a second to tear down an interpreter."""
    process = spawn_stdio(sandbox.url, "--log-level", "info")
    try:
        _serving(process)  # stdin stays open: the reader is blocked in a read
        started = time.monotonic()
        process.send_signal(sig)
        process.wait(timeout=15)
        elapsed = time.monotonic() - started
        assert process.stderr is not None
        log = process.stderr.read().decode()
    finally:
        _close(process)
    assert process.returncode == 0, log
    assert elapsed < 5, f"took {elapsed:.2f} s to exit after {sig.name}"
    assert STOPPED in log, log


def test_end_of_input_stops_stdio_at_once_after_cleanup(sandbox: SandboxProcess) -> None:
    process = spawn_stdio(sandbox.url, "--log-level", "info")
    try:
        _serving(process)
        assert process.stdin is not None
        started = time.monotonic()
        process.stdin.close()
        process.wait(timeout=15)
        elapsed = time.monotonic() - started
        assert process.stderr is not None
        log = process.stderr.read().decode()
    finally:
        _close(process)
    assert process.returncode == 0, log
    assert elapsed < 5, f"took {elapsed:.2f} s to exit at end of input"  # waiting forever is the failure
    assert STOPPED in log, log
