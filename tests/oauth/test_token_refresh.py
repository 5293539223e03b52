"""Automatic refresh: the built-in server issues 5-second access tokens; the MCP Python SDK's own OAuth
client signs in once, and once its access token has expired its next call refreshes the token by
itself (the refresh token rotates) and succeeds, in the same session, without a second sign-in."""

from __future__ import annotations

import json
import time
from collections.abc import Generator

import anyio
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.oauth.sdk_client import Memory, Person, provider
from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess, free_port

pytestmark = pytest.mark.anyio

LIFETIME = 5
JSONRPC = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def short_lived(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    folder = tmp_path_factory.mktemp("oauth-refresh")
    port = free_port()
    config = write_http_config(
        folder / "bridge.toml",
        sandbox_session.url,
        extra_server=[f'public_url = "http://127.0.0.1:{port}"'],
        extra_tables=["[oauth]", "built_in = true", f"access_token_seconds = {LIFETIME}", "leeway_seconds = 0"],
    )
    with running_bridge(config, "--port", str(port)) as process:
        yield process


async def _until_expired(token: str) -> None:
    expiry = jwt.decode(token, options={"verify_signature": False})["exp"]
    await anyio.sleep(max(0.0, expiry + 1.5 - time.time()))  # `exp` is in whole seconds


async def test_an_expired_access_token_is_refreshed_by_the_client_itself(short_lived: BridgeProcess) -> None:
    person, storage = Person(TOKENS["support"][0]), Memory()
    async with (
        httpx2.AsyncClient(auth=provider(short_lived, person, storage, "/mcp"), timeout=30) as http,
        Client(streamable_http_client(f"{short_lived.url}/mcp", http_client=http)) as client,
    ):
        await client.list_tools()
        assert storage.tokens is not None and storage.tokens.expires_in == LIFETIME
        first_access, first_refresh = storage.tokens.access_token, storage.tokens.refresh_token
        assert len(person.pages) == 2  # one sign-in: the form and the consent page
        await _until_expired(first_access)
        async with httpx2.AsyncClient(timeout=20) as plain:  # the bridge itself now refuses the old token
            expired = await plain.post(
                f"{short_lived.url}/mcp",
                headers={**JSONRPC, "Authorization": f"Bearer {first_access}"},
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            )
        assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["www-authenticate"]

        result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})

        assert not result.is_error and "90 days" in json.dumps(result.structured_content)
        assert len(person.pages) == 2  # no second sign-in: the client refreshed
        assert storage.tokens.access_token != first_access
        assert storage.tokens.refresh_token not in (None, first_refresh)
        assert storage.client is not None
        async with httpx2.AsyncClient(timeout=20) as plain:  # rotation: the first refresh token is spent
            reused = await plain.post(
                f"{short_lived.url}/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": first_refresh or "",
                    "client_id": storage.client.client_id or "",
                    **({"client_secret": storage.client.client_secret} if storage.client.client_secret else {}),
                },
            )
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
