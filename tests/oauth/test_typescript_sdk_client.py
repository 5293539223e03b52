"""The TypeScript MCP SDK's OAuth client (what Cursor, VS Code and n8n embed) against the built-in
authorization server: discovery, registration, PKCE, the sign-in form (posted by the test), token,
then `ask` on a per-agent URL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.oauth.browser import sign_in
from tests.support.bridge_http import TOKENS, BridgeProcess
from tests.support.node import NODE, NODE_DIR, NODE_MARKS, node_env

pytestmark = NODE_MARKS


def test_the_typescript_sdk_signs_in_and_asks(bridge: BridgeProcess, tmp_path: Path) -> None:
    client = subprocess.Popen(
        [
            str(NODE),
            str(NODE_DIR / "oauth_client.mjs"),
            f"{bridge.url}/agents/hr/mcp",
            "How many days of paid leave do employees get?",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=node_env(tmp_path),
        cwd=NODE_DIR,
    )
    try:
        assert client.stdout is not None and client.stdin is not None
        first = client.stdout.readline()
        assert first.startswith("authorize "), first + (client.stderr.read() if client.stderr else "")
        redirect = sign_in(first.removeprefix("authorize ").strip(), TOKENS["all"][0])
        out, err = client.communicate(redirect + "\n", timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    result = json.loads(out.strip().splitlines()[-1])
    assert "error" not in result, result
    assert "ask" in result["tools"]
    assert "25 days" in result["answer"]  # the HR corpus
    assert TOKENS["all"][0] not in out + err
