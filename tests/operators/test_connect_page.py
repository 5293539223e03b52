"""The connect page in a real headless Chromium (Playwright for Python): it loads and shows nothing without
a token, refuses a wrong one, shows a good token's agents, URLs, snippets and live state, keeps the token in
session storage only, and a snippet copied with its copy button connects the MCP Python SDK client."""

from __future__ import annotations

import json
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.browser import BROWSER_MARKS, LAUNCH_ARGS, chromium_executable
from tests.support.sandbox_process import SandboxProcess

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("connect") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> str:
    return chromium_executable(tmp_path_factory.mktemp("chromium"))


def launch_chromium(playwright: Playwright, executable: str, attempts: int = 3) -> Browser:
    """Launch the single-process Chromium, again if it crashes while starting (it did once, SIGSEGV, on a
    CI machine under heavy load); the tests are about the page, not about the browser's start."""
    for attempt in range(1, attempts + 1):
        try:
            return playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        except PlaywrightError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def page(chromium: str, bridge: BridgeProcess) -> Generator[Page]:
    """A fresh browser per test: a single-process Chromium does not survive a closed context."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, chromium)
        try:
            context = browser.new_context()
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=bridge.url)
            yield context.new_page()
        finally:
            browser.close()


def sign_in(page: Page, bridge: BridgeProcess, token: str) -> None:
    page.goto(f"{bridge.url}/connect")
    page.fill("#token", token)
    page.click("#token-form button")


def test_nothing_without_a_token(page: Page, bridge: BridgeProcess) -> None:
    page.goto(f"{bridge.url}/")  # `/` leads to the connect page
    assert page.url == f"{bridge.url}/connect"
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#connected")).to_be_hidden()
    assert "support" not in page.content() and "Northwind" not in page.content()
    info = httpx2.get(f"{bridge.url}/connect/info", timeout=30)
    assert info.status_code == 401 and "support" not in info.text
    in_query = httpx2.get(f"{bridge.url}/connect/info?token={TOKENS['all'][0]}", timeout=30)
    assert in_query.status_code == 401  # a header only: the token never sits in a URL


def test_a_wrong_token_is_refused(page: Page, bridge: BridgeProcess) -> None:
    sign_in(page, bridge, "tok-not-a-real-one")
    expect(page.locator("#signin-error")).to_have_text("That token is not valid for this bridge.")
    expect(page.locator("#connected")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_good_token_sees_its_agents_snippets_and_state(page: Page, bridge: BridgeProcess) -> None:
    token = TOKENS["support"][0]
    sign_in(page, bridge, token)
    expect(page.locator("#who")).to_have_text('Signed in with the token "support".')
    rows = page.locator("#agents tbody tr")
    expect(rows).to_have_count(1)  # the support token sees the support agent only
    expect(rows.first).to_contain_text("Northwind Support (support)")
    expect(rows.first).to_contain_text(f"{bridge.url}/agents/support/mcp")
    expect(page.locator("#endpoints")).to_contain_text(f"{bridge.url}/sse")
    for client in ("claude-desktop", "cursor", "windsurf", "n8n"):
        expect(page.locator(f'#clients section[data-client="{client}"] pre').first).to_be_visible()
    expect(page.locator("#clients")).to_contain_text("supergateway")
    expect(page.locator("#clients")).to_contain_text("mcp-remote")
    expect(page.locator("#state-list")).to_contain_text("Ready: yes")
    expect(page.locator("#state-list")).to_contain_text("Calls in the last hour:")
    assert token not in page.content()  # snippets reference AGENT_BRIDGE_TOKEN, never the token
    assert page.evaluate("sessionStorage.getItem('agent-bridge-token')") == token
    assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []
    page.reload()  # the same tab keeps it
    expect(page.locator("#who")).to_have_text('Signed in with the token "support".')
    page.click("#forget")
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_copied_snippet_connects(page: Page, bridge: BridgeProcess) -> None:
    token = TOKENS["support"][0]
    sign_in(page, bridge, token)
    page.select_option("#target", "support")
    cursor = page.locator('#clients section[data-client="cursor"]')
    expect(cursor.locator("pre").first).to_contain_text("/agents/support/mcp")
    cursor.locator("button.copy").first.click()
    expect(cursor.locator("button.copy").first).to_have_text("Copied")
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    entry = copied["mcpServers"]["agent-bridge"]
    headers = {k: v.replace("${env:AGENT_BRIDGE_TOKEN}", token) for k, v in entry["headers"].items()}

    async def connect() -> set[str]:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(entry["url"], http_client=http)) as client,
        ):
            return {t.name for t in (await client.list_tools()).tools}

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
        assert "ask" in thread.submit(anyio.run, connect).result(timeout=60)


def test_the_token_is_filled_in_only_when_asked(page: Page, bridge: BridgeProcess) -> None:
    token = TOKENS["support"][0]
    sign_in(page, bridge, token)
    mcp_remote = page.locator('#clients section[data-client="claude-desktop"] pre').first
    expect(mcp_remote).to_contain_text("<value of AGENT_BRIDGE_TOKEN>")
    assert token not in page.content()
    page.check("#fill-token")
    expect(mcp_remote).to_contain_text(f"Authorization:Bearer {token}")
    page.uncheck("#fill-token")
    expect(mcp_remote).to_contain_text("<value of AGENT_BRIDGE_TOKEN>")
