"""`/connect/info`, the connect page's only data: what a token may see and nothing more (plain HTTP, no
browser): an open loopback bridge, a metrics-only token, an agent outside the token's scope, the
Actions snippet only with the facade on, and no token value in any answer."""

from __future__ import annotations

from pathlib import Path

import httpx2

from tests.operators.metrics_text import SCRAPER_TOKEN, scraper_token_table
from tests.support.bridge_http import TOKENS, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess


def test_an_open_loopback_bridge_needs_no_token(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(tmp_path / "open.toml", sandbox.url, tokens=False)
    with running_bridge(config) as bridge:
        info = httpx2.get(f"{bridge.url}/connect/info", timeout=30).json()
        page = httpx2.get(f"{bridge.url}/connect", timeout=30)
    assert info["token"] is None
    assert [a["name"] for a in info["agents"]] == ["support", "hr"]
    assert info["state"]["ready"] is True
    cursor = next(c for c in info["clients"] if c["client"] == "cursor")
    assert "Authorization" not in cursor["snippets"][0]["text"]  # nothing to send
    assert all(c["client"] != "chatgpt-actions" for c in info["clients"])  # the facade is off
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "support" not in page.text  # the page is static: its data comes from /connect/info


def test_tokens_see_their_own_agents_only(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = write_http_config(
        tmp_path / "tokens.toml",
        sandbox.url,
        extra_tables=[*scraper_token_table(), "[actions]", "enabled = true"],
    )
    support = {"Authorization": f"Bearer {TOKENS['support'][0]}"}
    with running_bridge(config) as bridge:
        scraper = httpx2.get(f"{bridge.url}/connect/info", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"})
        mine = httpx2.get(f"{bridge.url}/connect/info?agent=support", headers=support, timeout=30)
        other = httpx2.get(f"{bridge.url}/connect/info?agent=hr", headers=support, timeout=30)
        root = httpx2.get(f"{bridge.url}/", timeout=30)
    assert scraper.status_code == 200
    assert scraper.json()["agents"] == [] and scraper.json()["clients"] == []
    assert scraper.json()["state"]["upstream"] == []  # a token with no agents learns nothing of the upstream
    assert mine.status_code == 200
    body = mine.json()
    assert body["token"] == "support" and [a["name"] for a in body["agents"]] == ["support"]
    assert body["agents"][0]["tools"] == ["ask", "search_citations", "list_sources"]
    actions = next(c for c in body["clients"] if c["client"] == "chatgpt-actions")
    assert "/actions/support/openapi.json" in actions["snippets"][0]["text"]
    assert TOKENS["support"][0] not in mine.text
    assert other.status_code == 404 and "hr" not in other.json()["message"].split("use:")[1]
    assert root.status_code == 307 and root.headers["location"] == "/connect"
