"""The Claude Desktop MCP Bundle: its manifest comes from the operations registry and passes `mcpb validate`;
`agent-bridge bundle` packs it with `mcpb pack`; unpacked, the server starts exactly as the manifest tells Claude
Desktop to (the `mcp_config` command with the user's settings substituted, through uv) and answers `ask`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from mcp_server.bundle_manifest import manifest
from mcp_server.commands.bundle import manifest_text
from mcp_server.operations import TOOL_NAMES
from mcp_server.operations.prompts import PROMPTS
from tests.support.node import NODE, NODE_MARKS, bin_path
from tests.support.sandbox_process import SandboxProcess
from tests.support.uv import CHECKOUT, requires_uv, uv_env

pytestmark = [*NODE_MARKS, requires_uv]

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def mcpb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NODE), str(bin_path("mcpb")), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_checked_in_manifest_is_the_generated_one_with_the_registrys_tools() -> None:
    assert (CHECKOUT / "bundle" / "manifest.json").read_text(encoding="utf-8") == manifest_text(), (
        "bundle/manifest.json is stale: run `agent-bridge bundle --write-manifest`"
    )
    generated = manifest()
    assert [t["name"] for t in generated["tools"]] == list(TOOL_NAMES)
    assert [p["name"] for p in generated["prompts"]] == list(PROMPTS)
    assert generated["manifest_version"] == "0.4" and generated["server"]["type"] == "uv"
    assert generated["user_config"]["customgpt_api_key"]["sensitive"] is True
    assert "customgpt_api_key" not in json.dumps(generated["server"]["mcp_config"]["args"])


def test_mcpb_validate_accepts_the_manifest() -> None:
    done = mcpb("validate", str(CHECKOUT / "bundle" / "manifest.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Manifest schema validation passes" in done.stdout


def test_mcpb_validate_would_catch_a_broken_manifest(tmp_path: Path) -> None:
    broken = {**manifest(), "server": {**manifest()["server"], "type": "conda"}}
    (tmp_path / "manifest.json").write_text(json.dumps(broken))
    done = mcpb("validate", str(tmp_path / "manifest.json"))
    assert done.returncode != 0


def _substituted(value: Any, variables: dict[str, str]) -> Any:
    """What Claude Desktop does to `mcp_config`: `${__dirname}` and `${user_config.KEY}` filled in."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, list):
        return [_substituted(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _substituted(v, variables) for k, v in value.items()}
    return value


@pytest.fixture
def unpacked(tmp_path: Path) -> Path:
    """`agent-bridge bundle` packed with mcpb, then unpacked by `mcpb unpack` as Claude Desktop unpacks it."""
    packed = tmp_path / "agent-bridge.mcpb"
    built = subprocess.run(
        [sys.executable, "-m", "mcp_server", "bundle", "--out", str(packed), "--mcpb", f"{NODE} {bin_path('mcpb')}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    folder = tmp_path / "unpacked"
    done = mcpb("unpack", str(packed), str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p.name for p in folder.iterdir()} == {
        "manifest.json",
        "icon.png",
        "pyproject.toml",
        "README.md",
        "mcp_server",
    }
    assert not list(folder.rglob("__pycache__"))
    return folder


@pytest.mark.anyio
async def test_the_unpacked_bundle_starts_as_its_manifest_says_and_answers(
    unpacked: Path, sandbox: SandboxProcess
) -> None:
    shipped = json.loads((unpacked / "manifest.json").read_text())
    user = {"customgpt_api_key": sandbox.api_key, "project_ids": "1", "base_url": sandbox.url}
    variables = {"__dirname": str(unpacked), **{f"user_config.{k}": v for k, v in user.items()}}
    config = _substituted(shipped["server"]["mcp_config"], variables)
    assert config["command"] == "uv"
    params = StdioServerParameters(command=config["command"], args=config["args"], env=uv_env(config["env"]))
    async with Client(params, mode="legacy") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
    assert names == [t["name"] for t in shipped["tools"]]
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    assert "90 days" in result.structured_content["answer"]
