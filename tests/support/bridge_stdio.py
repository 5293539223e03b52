"""Start `agent-bridge stdio` as a real child process under the MCP Python SDK client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp import Client, StdioServerParameters


def stdio_params(*, env: dict[str, str], config: Path | None = None) -> StdioServerParameters:
    args = ["-m", "mcp_server", "stdio"]
    if config is not None:
        args += ["--config", str(config)]
    return StdioServerParameters(command=sys.executable, args=args, env=env)


def env_mode(sandbox_url: str, api_key: str = "sandbox-key", project_ids: str = "1") -> dict[str, str]:
    return {"CUSTOMGPT_BASE_URL": sandbox_url, "CUSTOMGPT_API_KEY": api_key, "CUSTOMGPT_PROJECT_IDS": project_ids}


def spawn_stdio(sandbox_url: str, *cli_args: str) -> subprocess.Popen[bytes]:
    """`agent-bridge [CLI_ARGS] stdio` in environment mode as a raw child, for tests of the byte stream itself."""
    return subprocess.Popen(
        [sys.executable, "-m", "mcp_server", *cli_args, "stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**env_mode(sandbox_url), "PATH": "/usr/bin:/bin"},
    )


def write_config(
    path: Path,
    sandbox_url: str,
    agents: list[tuple[str, int]],
    *,
    api_key: str = "sandbox-key",
    timeout: float = 30,
    deadline: float = 300,
    keepalive: float = 10,
) -> Path:
    lines = [
        "[server]",
        f"call_deadline_seconds = {deadline}",
        f"keepalive_seconds = {keepalive}",
        "[backends.customgpt]",
        f'api_key = "{api_key}"',
        f'base_url = "{sandbox_url}"',
        f"timeout_seconds = {timeout}",
    ]
    for name, project_id in agents:
        lines += ["[[agents]]", f'name = "{name}"', f"project_id = {project_id}"]
    path.write_text("\n".join(lines) + "\n")
    return path


@asynccontextmanager
async def stdio_bridge(
    *, env: dict[str, str], config: Path | None = None, mode: str = "legacy"
) -> AsyncGenerator[Client]:
    async with Client(stdio_params(env=env, config=config), mode=mode) as client:  # pyright: ignore[reportArgumentType]
        yield client
