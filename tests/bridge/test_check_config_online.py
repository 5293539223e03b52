"""`agent-bridge check-config` against the sandbox: agents named as `serve` names them, and each checked
once with its key (reachable, key accepted, project found)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.sandbox_process import SandboxProcess


def _check(sandbox: SandboxProcess, key: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "CUSTOMGPT_API_KEY": key,
        "CUSTOMGPT_PROJECT_IDS": "1",
        "CUSTOMGPT_BASE_URL": sandbox.url,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", "check-config", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_environment_mode_names_agents_as_serve_does_and_checks_the_key(sandbox: SandboxProcess) -> None:
    good = _check(sandbox, "sandbox-key")
    wrong = _check(sandbox, "not-the-key-1234")
    offline = _check(sandbox, "not-the-key-1234", "--offline")
    assert good.returncode == 0, good.stderr
    assert "agent northwind-support: customgpt project 1" in good.stdout
    assert "upstream: OK (reachable, key accepted, project 'Northwind Support' found)" in good.stdout
    assert wrong.returncode == 1
    assert "upstream: FAILED: the upstream refused the API key (HTTP 401)" in wrong.stdout
    assert "not-the-key-1234" not in wrong.stdout + wrong.stderr
    assert offline.returncode == 0 and "agent project-1:" in offline.stdout and "upstream:" not in offline.stdout
