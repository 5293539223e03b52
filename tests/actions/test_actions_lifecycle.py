"""Answers in progress belong to the app: a token's cap on running answers, and a clean shutdown that
cancels a running answer (its upstream request ends) instead of waiting for it or leaking it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2

from tests.actions.conftest import actions_config
from tests.support.bridge_http import running_bridge_logging_to
from tests.support.sandbox_process import SandboxProcess


def _hanging(sandbox: SandboxProcess, want: int) -> bool:
    deadline = time.monotonic() + 15
    while sandbox.stats()["hanging"] != want:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_token_has_a_cap_on_running_answers_and_shutdown_cancels_them(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    config = actions_config(tmp_path / "bridge.toml", sandbox, "max_answers_per_token = 1")
    log = tmp_path / "bridge.log"
    sandbox.arm_fault("hang", count=-1, path="/messages$")
    with running_bridge_logging_to(config, log, level="info") as bridge:
        ask = {"question": "How long are backups kept?"}
        first = httpx2.post(f"{bridge.url}/actions/support/ask", json=ask, headers=bridge.auth(), timeout=30)
        assert first.status_code == 200 and first.json()["status"] == "in_progress"
        second = httpx2.post(f"{bridge.url}/actions/support/ask", json=ask, headers=bridge.auth(), timeout=30)
        assert second.status_code == 429 and second.json()["error"] == "too_many_requests"
        assert "limit is 1" in second.json()["message"]
        other = httpx2.post(f"{bridge.url}/actions/support/ask", json=ask, headers=bridge.auth("support"), timeout=30)
        assert other.status_code == 200  # the cap is per token
        assert _hanging(sandbox, 2)
        bridge.process.terminate()
        assert bridge.process.wait(timeout=30) == 0
    assert _hanging(sandbox, 0)  # the running answers' upstream requests were cancelled, not left behind
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text
