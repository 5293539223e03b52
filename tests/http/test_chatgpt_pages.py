"""`fetch_pages`: the connector's `fetch` of a cited source reads the source's public page, from the
agent's `fetch_hosts` only. A sandbox serves its documents' pages itself (`--docs-url .../docs`)."""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_server.config_loading import parse_config
from mcp_server.errors import ConfigError
from mcp_server.page_fetcher import allowed, html_text
from tests.support.bridge_http import BridgeProcess, running_bridge
from tests.support.sandbox_process import SandboxProcess, free_port, running_sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def pages_sandbox() -> Generator[SandboxProcess]:
    port = free_port()
    with running_sandbox("--port", str(port), "--docs-url", f"http://127.0.0.1:{port}/docs") as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def bridge(pages_sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config: Path = tmp_path_factory.mktemp("pages") / "bridge.toml"
    config.write_text(
        "[backends.customgpt]\n"
        'api_key = "sandbox-key"\n'
        f'base_url = "{pages_sandbox.url}"\n'
        "[[agents]]\n"
        'name = "reader"\n'
        "project_id = 1\n"
        "fetch_pages = true\n"
        'fetch_hosts = ["127.0.0.1"]\n'
        "[[agents]]\n"
        'name = "plain"\n'
        "project_id = 1\n"
    )
    with running_bridge(config) as process:
        yield process


async def _search_and_fetch_a_source(bridge: BridgeProcess, agent: str, sandbox: SandboxProcess) -> list[Any]:
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}/agents/{agent}/chatgpt/mcp", http_client=http)) as client,
    ):
        found = _json(await client.call_tool("search", {"query": "How long are backups kept on the Pro plan?"}))
        source = found["results"][1]["id"]  # the first cited source
        sandbox.reset_stats()
        first = _json(await client.call_tool("fetch", {"id": source}))
        pages_after_first = dict(sandbox.stats()["paths"])
        again = _json(await client.call_tool("fetch", {"id": source}))
        pages_after_again = dict(sandbox.stats()["paths"])
    return [first, again, pages_after_first, pages_after_again]


def _json(result: types.CallToolResult) -> Any:
    assert not result.is_error and len(result.content) == 1, result.content
    assert isinstance(result.content[0], types.TextContent)
    return json.loads(result.content[0].text)


async def test_fetch_reads_the_public_page_once_from_an_allowed_host(
    bridge: BridgeProcess, pages_sandbox: SandboxProcess
) -> None:
    first, again, after_first, after_again = await _search_and_fetch_a_source(bridge, "reader", pages_sandbox)
    assert first["metadata"]["page"] == "fetched"
    assert first["url"].startswith(f"{pages_sandbox.url}/docs/northwind-support/")
    assert "days" in first["text"] and "window.analytics" not in first["text"] and "Docs home" not in first["text"]
    assert list(after_first) == [first["url"].removeprefix(pages_sandbox.url)]  # the page, and nothing upstream
    assert after_again == after_first  # read once, then kept with the document
    assert again == first


async def test_without_fetch_pages_a_source_is_its_description_said_plainly(
    bridge: BridgeProcess, pages_sandbox: SandboxProcess
) -> None:
    first, _, after_first, _ = await _search_and_fetch_a_source(bridge, "plain", pages_sandbox)
    assert "not its full text" in first["text"] and "page" not in first["metadata"]
    assert after_first == {}


def test_only_listed_hosts_over_http_are_fetched() -> None:
    assert allowed("https://docs.example.com/a", ["docs.example.com"])
    assert not allowed("https://docs.example.com.evil.test/a", ["docs.example.com"])
    assert not allowed("file:///etc/passwd", ["docs.example.com"])
    assert not allowed("http://169.254.169.254/latest", ["docs.example.com"])
    assert (
        html_text("<html><head><title>T</title><script>x()</script></head><body><p>One</p><p>Two</p></body></html>")
        == "One\nTwo"
    )


def test_fetch_pages_needs_its_hosts() -> None:
    with pytest.raises(ConfigError, match=r"agents\[0\]\.fetch_hosts: list the hosts"):
        parse_config(
            {
                "backends": {"customgpt": {"api_key": "k"}},
                "agents": [{"name": "a", "project_id": 1, "fetch_pages": True}],
            },
            source="t",
        )
