"""The bridge listens at once and says when it is ready: with a slow upstream during start-up (agent names
discovered from CustomGPT), `/healthz` answers at once, `/readyz` is 503 until the agents are known, and
the ready line `agent-bridge serving on …` is printed when it is true."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx2

from tests.support.sandbox_process import free_port, running_sandbox


def test_healthz_at_once_readyz_503_until_the_agents_are_known() -> None:
    with running_sandbox("--latency", "4") as sandbox:  # discovery takes >= 4 s: room on a busy machine
        port = free_port()
        env = {
            **os.environ,
            "CUSTOMGPT_API_KEY": "sandbox-key",
            "CUSTOMGPT_PROJECT_IDS": "1",
            "CUSTOMGPT_BASE_URL": sandbox.url,
        }
        env.pop("AGENT_BRIDGE_CONFIG", None)
        with subprocess.Popen(
            [sys.executable, "-m", "mcp_server", "serve", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        ) as bridge:
            try:
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 15
                health: httpx2.Response | None = None
                while health is None and time.monotonic() < deadline:
                    try:
                        health = httpx2.get(f"{url}/healthz", timeout=1)
                    except httpx2.TransportError:
                        time.sleep(0.05)
                assert health is not None and health.status_code == 200
                starting = httpx2.get(f"{url}/readyz", timeout=5)
                assert bridge.stdout is not None
                ready_line = bridge.stdout.readline()  # printed once discovery (4 s per upstream call) ends
                ready = httpx2.get(f"{url}/readyz", timeout=5)
            finally:
                bridge.terminate()
                bridge.wait(timeout=30)
    assert starting.status_code == 503 and starting.json()["status"] == "starting"
    assert ready_line.strip() == f"agent-bridge serving on http://127.0.0.1:{port}"
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "agents": 1}
