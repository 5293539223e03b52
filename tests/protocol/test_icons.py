"""Icons (2025-11-25 `icons`): the bridge's own on the implementation, each agent's (its configured `icon`,
or in zero-config mode its CustomGPT avatar) on its tools and prompts."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_server.config_loading import parse_config
from mcp_server.errors import ConfigError
from tests.support.bridge_http import running_bridge, write_http_config
from tests.support.bridge_stdio import env_mode, stdio_bridge
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

HR_ICON = "https://intranet.example.com/hr-logo.png"


async def test_stdio_agent_icon_is_the_upstream_avatar(sandbox: SandboxProcess) -> None:
    async with stdio_bridge(env=env_mode(sandbox.url)) as client:
        server = client.server_info
        tools = (await client.list_tools()).tools
        prompts = (await client.list_prompts()).prompts
    assert server is not None and server.icons
    assert server.icons[0].src.startswith("data:image/svg+xml;base64,")
    for item in [*tools, *prompts]:
        assert item.icons, item.name
        assert item.icons[0].src.startswith("https://docs.sandbox.local/") and item.icons[0].src.endswith("/avatar.png")


async def test_http_configured_icon_on_its_agent_only(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "bridge.toml", sandbox.url, tokens=False)
    with config.open("a") as toml:
        toml.write(f'icon = "{HR_ICON}"\n')  # the file ends in the last [[agents]] table: hr
    with running_bridge(config) as bridge:
        async with (
            httpx2.AsyncClient(timeout=30) as http,
            Client(streamable_http_client(f"{bridge.url}/mcp", http_client=http)) as client,
        ):
            tools = (await client.list_tools()).tools
            prompts = (await client.list_prompts()).prompts
    icons = {item.name: [i.src for i in item.icons or []] for item in [*tools, *prompts]}
    assert icons["hr_ask"] == [HR_ICON] and icons["hr_search_citations"] == [HR_ICON]
    assert icons["support_ask"] == []  # a configured agent without `icon` has none (no upstream lookup)


def test_icon_must_be_https_or_data() -> None:
    data = {
        "backends": {"customgpt": {"api_key": "k"}},
        "agents": [{"name": "a", "project_id": 1, "icon": "http://example.com/a.png"}],
    }
    with pytest.raises(ConfigError) as refused:
        parse_config(data, source="test.toml", env={})
    assert "agents[0].icon" in str(refused.value) and "https://" in str(refused.value)
