"""The Python agent frameworks' snippets from `agent-bridge connect`, each run as printed in its own
environment (`uv run --with <framework>`, so each brings its own `mcp` version) against a served bridge:
the snippet asks the agent and prints the answer."""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Generator
from pathlib import Path

import pytest

from mcp_server.client_snippets import snippets
from mcp_server.framework_snippets import FRAMEWORKS
from mcp_server.snippet_targets import served
from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess
from tests.support.uv import UV, requires_uv, uv_env

pytestmark = requires_uv

PINS = {
    "openai-agents": "openai-agents==0.24.0",
    "langchain": "langchain-mcp-adapters==0.3.2",
    "pydantic-ai": "pydantic-ai-slim[mcp]==2.68.0",
    "llama-index": "llama-index-tools-mcp==0.6.0",
    "fastmcp": "fastmcp==4.1.6",
}
QUESTION = "How long are backups kept on the Pro plan?"


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("bridge") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


def test_every_framework_is_pinned_here() -> None:
    assert set(PINS) == set(FRAMEWORKS)


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_the_snippet_asks_the_bridge(framework: str, bridge: BridgeProcess, tmp_path: Path) -> None:
    run_snippet(framework, "/agents/support/mcp", bridge, tmp_path)


def test_a_snippet_on_the_all_agents_endpoint_finds_the_prefixed_tool(bridge: BridgeProcess, tmp_path: Path) -> None:
    run_snippet("fastmcp", "/mcp", bridge, tmp_path)


def test_the_openai_agents_snippet_waits_longer_than_the_sdks_5_s_default(
    bridge: BridgeProcess, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    sandbox.reset_stats()
    sandbox.arm_fault("latency", count=1, path=r"/conversations/[^/]+/messages$", latency=6)
    run_snippet("openai-agents", "/agents/support/sse", bridge, tmp_path)
    assert sandbox.stats()["faults"] == {"latency": 1}  # the answer did take longer than 5 s


def run_snippet(framework: str, endpoint: str, bridge: BridgeProcess, tmp_path: Path) -> None:
    """The snippet for `endpoint`, run in the framework's own environment with the token in the environment
    variable it reads; it must print the agent's answer."""
    transport = "sse" if endpoint.endswith("/sse") else "http"
    target = served(bridge.url + endpoint, token_env="AGENT_BRIDGE_TOKEN", transport=transport)
    (snippet,) = snippets(framework, target)
    ast.parse(snippet.text)
    assert TOKENS["all"][0] not in snippet.text
    script = tmp_path / "agent_bridge_client.py"
    script.write_text(snippet.text)
    done = subprocess.run(
        [str(UV), "run", "-q", "--no-project", "--with", PINS[framework], "python", str(script), QUESTION],
        env=uv_env({"AGENT_BRIDGE_TOKEN": TOKENS["all"][0]}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "90 days" in done.stdout, done.stdout[-3000:]
