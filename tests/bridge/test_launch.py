"""`launch.running`/`launch.wait_for_ready`: what a child that never gets ready printed is what the error reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mcp_server import launch
from mcp_server.errors import BridgeError


def test_a_child_that_fails_to_start_reports_its_stderr(tmp_path: Path) -> None:
    """A config error goes to the child's stderr; the error raised here quotes it, even when quiet."""
    config = tmp_path / "broken.toml"
    config.write_text("[server]\nport = 'not a number'\n")
    with pytest.raises(BridgeError) as raised, launch.running(["serve", "--config", str(config)], quiet=True):
        pass
    message = str(raised.value)
    assert "port" in message, message
    assert "exited with" in message, message


def test_only_a_bounded_tail_of_stdout_is_kept_and_reported() -> None:
    """A chatty child that never prints the ready line: the last lines are reported, the first are gone."""
    script = "import sys, time\nfor i in range(20000): print(f'line {i}')\nsys.stdout.flush()\ntime.sleep(30)\n"
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        with pytest.raises(BridgeError) as raised:
            launch.wait_for_ready(process, "chatty", timeout=3)
    finally:
        process.kill()
        process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
    message = str(raised.value)
    assert "line 19999" in message
    assert "line 0\n" not in message and "line 100\n" not in message
    assert len(message) < 10_000
