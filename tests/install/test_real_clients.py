"""What `agent-bridge connect` prints, used by the real clients: Claude Code runs its `claude mcp add` line and
Gemini CLI reads its settings fragment, each then reporting the bridge connected (`claude mcp list`,
`gemini mcp list`) over Streamable HTTP, HTTP+SSE and stdio; Codex CLI reads its config.toml fragment
(`codex mcp list --json`). Each client runs with its own HOME in a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.node import NODE_MARKS, NODE_MODULES, node_env
from tests.support.sandbox_process import SandboxProcess

pytestmark = NODE_MARKS

TOKEN = TOKENS["all"][0]
TOKEN_ENV = "AGENT_BRIDGE_TOKEN"
TRANSPORTS = ["http", "sse", "stdio"]


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("bridge") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


def connect(client: str, transport: str, bridge: BridgeProcess, sandbox: SandboxProcess, *token: str) -> str:
    """The one snippet `agent-bridge connect CLIENT` prints for `transport` (its text, without the title)."""
    if transport == "stdio":
        args: list[str] = []
        env = {"CUSTOMGPT_PROJECT_IDS": "1", "CUSTOMGPT_BASE_URL": sandbox.url}  # the API key stays out
    else:
        endpoint = f"{bridge.url}/agents/support/{'mcp' if transport == 'http' else 'sse'}"
        args, env = ["--url", endpoint, "--transport", transport, *token], {}
    done = subprocess.run(
        [sys.executable, "-m", "mcp_server", "connect", client, *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
        check=True,
    )
    title, text = done.stdout.split("\n", 1)
    assert title.startswith("# ") and "\n# " not in text, done.stdout
    return text


def client_env(home: Path, token: str = TOKEN) -> dict[str, str]:
    """A client's environment: its own HOME, Node 22 and the npm clients on PATH, and the secrets the
    snippets refer to (the bridge token, the sandbox's API key for stdio)."""
    env = node_env(home, {"DISABLE_AUTOUPDATER": "1", TOKEN_ENV: token, "CUSTOMGPT_API_KEY": "sandbox-key"})
    env["PATH"] = f"{NODE_MODULES / '.bin'}:{env['PATH']}"
    return env


def run(args: list[str], home: Path, cwd: Path, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=client_env(home, token), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def token_args(transport: str) -> list[str]:
    """Streamable HTTP refers to the token in the environment; SSE gets it printed in."""
    return ["--token-env", TOKEN_ENV] if transport == "http" else ["--token", TOKEN]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_claude_code_runs_the_line_and_connects(
    transport: str, bridge: BridgeProcess, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    line = connect("claude-code", transport, bridge, sandbox, *token_args(transport))
    added = run(["bash", "-c", line], tmp_path, tmp_path)
    assert added.returncode == 0, added.stdout + added.stderr
    listed = run(["claude", "mcp", "list"], tmp_path, tmp_path)
    assert listed.returncode == 0, listed.stderr
    (row,) = [r for r in listed.stdout.splitlines() if r.startswith("agent-bridge:")]
    assert row.endswith("✔ Connected"), listed.stdout
    assert TOKEN not in listed.stdout + added.stdout


def test_claude_code_with_a_wrong_token_does_not_connect(
    bridge: BridgeProcess, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    line = connect("claude-code", "http", bridge, sandbox, "--token-env", TOKEN_ENV)
    assert run(["bash", "-c", line], tmp_path, tmp_path, token="not-a-token").returncode == 0
    listed = run(["claude", "mcp", "list"], tmp_path, tmp_path)
    (row,) = [r for r in listed.stdout.splitlines() if r.startswith("agent-bridge:")]
    assert "Connected" not in row.replace("✗ Failed to connect", ""), listed.stdout


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_gemini_cli_reads_the_fragment_and_connects(
    transport: str, bridge: BridgeProcess, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / ".gemini").mkdir(parents=True)
    (project / ".gemini" / "settings.json").write_text(
        connect("gemini-cli", transport, bridge, sandbox, *token_args(transport))
    )
    (tmp_path / ".gemini").mkdir()
    (tmp_path / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(project): "TRUST_FOLDER"}))
    listed = run(["gemini", "mcp", "list"], tmp_path, project)
    assert listed.returncode == 0, listed.stderr[-2000:]
    output = listed.stdout + listed.stderr  # Gemini CLI prints the list on stderr
    (row,) = [r for r in output.splitlines() if "agent-bridge:" in r]
    assert row.endswith("- Connected"), output


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_codex_cli_reads_the_fragment(
    transport: str, bridge: BridgeProcess, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    codex_home = tmp_path / ".codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(
        connect("codex", transport, bridge, sandbox, "--token-env", TOKEN_ENV) + "\n"
    )
    listed = subprocess.run(
        ["codex", "mcp", "list", "--json"],
        env={**client_env(tmp_path), "CODEX_HOME": str(codex_home)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    (server,) = json.loads(listed.stdout)
    assert server["name"] == "agent-bridge" and server["enabled"] and server["tool_timeout_sec"] == 300
    wire = server["transport"]
    if transport == "http":
        assert wire == {**wire, "type": "streamable_http", "url": f"{bridge.url}/agents/support/mcp"}
        assert wire["bearer_token_env_var"] == TOKEN_ENV
    else:
        assert wire["type"] == "stdio" and wire["args"] == ["stdio"] and wire["command"].endswith("agent-bridge")
        assert wire["env"] == {"CUSTOMGPT_PROJECT_IDS": "1", "CUSTOMGPT_BASE_URL": sandbox.url}
        assert wire["env_vars"] == ["CUSTOMGPT_API_KEY"]
