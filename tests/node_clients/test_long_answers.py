"""A 90-second answer through the TypeScript SDK, whose default request timeout is 60 s: progress
notifications (with `resetTimeoutOnProgress`) keep the call alive over Streamable HTTP, HTTP+SSE and
stdio. The three calls run at once so the suite pays the 90 seconds once."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2

from mcp_server.sandbox.search import pieces
from tests.support.bridge_http import BridgeProcess
from tests.support.node import NODE_MARKS, run_ts_client
from tests.support.sandbox_process import SandboxProcess

pytestmark = NODE_MARKS

QUESTION = "How do I install the agent silently on many Windows machines?"
ANSWER_SECONDS = 90.0


def _drip_for_90_seconds(sandbox: SandboxProcess) -> float:
    """Seconds between pieces so that this question's answer takes 90 s to stream."""
    with httpx2.Client(base_url=sandbox.api_url, headers=sandbox.headers) as api:
        session = api.post("/projects/1/conversations", json={"name": "probe"}).json()["data"]["session_id"]
        answer = api.post(f"/projects/1/conversations/{session}/messages", json={"prompt": QUESTION}).json()
    return ANSWER_SECONDS / len(pieces(answer["data"]["openai_response"]))


def test_ninety_second_answer_over_http_sse_and_stdio(
    sandbox: SandboxProcess, node_bridge: BridgeProcess, tmp_path: Path
) -> None:
    drip = _drip_for_90_seconds(sandbox)
    sandbox.arm_fault("slow", count=3, path=r"/conversations/[^/]+/messages$", drip=drip)
    call = {
        "op": "callTool",
        "name": "ask",
        "arguments": {"question": QUESTION},
        "progress": True,
        "timeout": 60000,  # the TypeScript SDK's default; only progress resets keep the call alive
    }
    specs: dict[str, dict[str, Any]] = {
        "http": {"transport": "http", "url": f"{node_bridge.url}/agents/support/mcp", "headers": node_bridge.auth()},
        "sse": {"transport": "sse", "url": f"{node_bridge.url}/agents/support/sse", "headers": node_bridge.auth()},
        "stdio": {
            "transport": "stdio",
            "command": sys.executable,
            "args": ["-m", "mcp_server", "stdio"],
            "env": {
                "CUSTOMGPT_BASE_URL": sandbox.url,
                "CUSTOMGPT_API_KEY": "sandbox-key",
                "CUSTOMGPT_PROJECT_IDS": "1",
            },
        },
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            name: pool.submit(run_ts_client, {**spec, "ops": [call]}, tmp_path / name, 240)
            for name, spec in specs.items()
        }
        outcomes = {name: future.result()[0] for name, future in futures.items()}

    for name, outcome in outcomes.items():
        assert "error" not in outcome, (name, outcome)
        answer = outcome["result"]["structuredContent"]["answer"]
        streamed = "".join(p["message"] for p in outcome["progress"] if p["message"])
        assert len([p for p in outcome["progress"] if p["message"]]) > 1, name
        assert streamed == answer, name
        assert "msiexec" in answer, name
        assert outcome["elapsed_ms"] >= ANSWER_SECONDS * 1000 * 0.9, (name, outcome["elapsed_ms"])
