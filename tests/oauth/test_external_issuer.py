"""The bridge as an OAuth protected resource for a real identity provider (npm oidc-provider): real
JWT access tokens by client_credentials with a resource indicator, and the token matrix."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2
import jwt
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.oauth.identity_provider import IdentityProvider, running_identity_provider
from tests.support.bridge_http import TOKENS, running_bridge, write_http_config
from tests.support.node import NODE_MARKS
from tests.support.sandbox_process import SandboxProcess, free_port

pytestmark = [*NODE_MARKS, pytest.mark.anyio]

JSONRPC = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


@dataclass(frozen=True, slots=True)
class Setup:
    bridge: str  # the bridge's URL, also its public_url (the resource identifier)
    idp: IdentityProvider


@pytest.fixture(scope="module")
def setup(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[Setup]:
    folder = tmp_path_factory.mktemp("oauth-external")
    with running_identity_provider(folder) as idp:
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        config = write_http_config(
            folder / "bridge.toml",
            sandbox_session.url,
            extra_server=[f'public_url = "{public_url}"'],
            extra_tables=[
                "[actions]",
                "enabled = true",
                "[oauth]",
                f'issuer = "{idp.issuer}"',
                'audience = ["urn:agent-bridge:test", "urn:agent-bridge:opaque"]',
                f'introspection_url = "{idp.issuer}/token/introspection"',
                'introspection_client_id = "bridge"',
                'introspection_client_secret = "bridge-secret"',
                'agents_claim = "groups"',
                "[oauth.claim_agents]",
                'hr-team = ["hr"]',
            ],
        )
        with running_bridge(config, "--port", str(port)) as bridge:
            assert bridge.url == public_url
            yield Setup(bridge.url, idp)


def _post(url: str, headers: dict[str, str] | None = None, body: object = INITIALIZE) -> httpx2.Response:
    with httpx2.Client(timeout=20) as http:
        return http.post(url, json=body, headers={**JSONRPC, **(headers or {})})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _challenge(response: httpx2.Response) -> dict[str, str]:
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer ")
    fields: dict[str, str] = {}
    for part in header.removeprefix("Bearer ").split('", '):
        name, _, value = part.partition("=")
        fields[name.strip()] = value.strip().strip('"')
    return fields


def _assert_invalid_token(response: httpx2.Response, setup: Setup, path: str = "/mcp") -> None:
    assert response.status_code == 401, response.text
    challenge = _challenge(response)
    assert challenge["error"] == "invalid_token"
    assert challenge["resource_metadata"] == f"{setup.bridge}/.well-known/oauth-protected-resource{path}"
    assert challenge["scope"]
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert body["error"]["data"]["status"] == 401


def test_a_real_provider_token_reaches_the_agents(setup: Setup) -> None:
    token = setup.idp.client_credentials(resource=setup.bridge, scope="agent:*")
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    response = _post(f"{setup.bridge}/mcp", _bearer(token))
    assert response.status_code == 200, response.text
    assert "agent-bridge" in response.text.lower() or "serverInfo" in response.text


async def test_the_sdk_client_asks_with_a_provider_token(setup: Setup) -> None:
    token = setup.idp.client_credentials(resource=setup.bridge, scope="agent:support")
    async with (
        httpx2.AsyncClient(headers=_bearer(token), timeout=30) as http,
        Client(streamable_http_client(f"{setup.bridge}/mcp", http_client=http)) as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
    assert "ask" in names and not any(name.startswith("hr_") for name in names)  # agent:support: only support
    assert isinstance(result, types.CallToolResult) and not result.is_error
    assert "90 days" in json.dumps(result.structured_content)


def test_no_token_is_a_401_with_the_metadata_location(setup: Setup) -> None:
    _assert_invalid_token(_post(f"{setup.bridge}/mcp"), setup)
    response = _post(f"{setup.bridge}/agents/hr/mcp")
    _assert_invalid_token(response, setup, "/agents/hr/mcp")
    assert _challenge(response)["scope"] == "agent:hr"


def test_a_project_url_401_names_the_agent_of_that_project(setup: Setup) -> None:
    for path, scope in (("/projects/2/mcp", "agent:hr"), ("/projects/1/mcp", "agent:support")):
        response = _post(f"{setup.bridge}{path}")
        _assert_invalid_token(response, setup, path)
        assert _challenge(response)["scope"] == scope
    with httpx2.Client(timeout=20) as http:
        stream = http.get(f"{setup.bridge}/projects/2/sse", headers={"Authorization": "Bearer expired.x.y"})
    assert stream.status_code == 401 and _challenge(stream)["scope"] == "agent:hr"
    assert _challenge(_post(f"{setup.bridge}/projects/999/mcp"))["scope"] == "agent:*"  # no agent: every agent


def test_a_static_token_still_cannot_probe_project_ids_with_oauth_on(setup: Setup) -> None:
    """The support token may not use project 2 (hr): answered exactly like a project nobody serves."""
    answers: list[tuple[int, str, str | None]] = []
    for number in (2, 999):
        response = _post(f"{setup.bridge}/projects/{number}/mcp", _bearer(TOKENS["support"][0]))
        text = response.text.replace(f"/{number}/", "/<probed>/")
        answers.append((response.status_code, text, response.headers.get("www-authenticate")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404 and answers[0][2] is None and "hr" not in answers[0][1]


def test_actions_documents_name_the_providers_endpoints(setup: Setup) -> None:
    with httpx2.Client(timeout=20) as http:
        provider = http.get(f"{setup.idp.issuer}/.well-known/openid-configuration").json()
        document = http.get(f"{setup.bridge}/actions/hr/openapi.json?auth=oauth").json()
        refused = http.get(f"{setup.bridge}/actions/hr/sources")
        token = setup.idp.client_credentials(resource=setup.bridge, scope="agent:hr")
        allowed = http.get(f"{setup.bridge}/actions/hr/sources", headers=_bearer(token))
    flow = document["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == provider["authorization_endpoint"]
    assert flow["tokenUrl"] == provider["token_endpoint"]
    assert refused.status_code == 401 and _challenge(refused)["scope"] == "agent:hr"
    assert allowed.status_code == 200, allowed.text


def test_protected_resource_metadata_at_the_root_and_path_inserted(setup: Setup) -> None:
    with httpx2.Client(timeout=10) as http:
        root = http.get(f"{setup.bridge}/.well-known/oauth-protected-resource")
        inserted = http.get(
            f"{setup.bridge}/.well-known/oauth-protected-resource/agents/support/mcp",
            headers={"Origin": "https://claude.ai"},
        )
        preflight = http.options(
            f"{setup.bridge}/.well-known/oauth-protected-resource/mcp",
            headers={"Origin": "https://claude.ai", "Access-Control-Request-Method": "GET"},
        )
    assert root.status_code == inserted.status_code == 200
    document = root.json()
    assert document == inserted.json()
    assert document["resource"] == setup.bridge
    assert document["authorization_servers"] == [setup.idp.issuer]
    assert document["bearer_methods_supported"] == ["header"]
    assert {"agent:*", "agent:support", "agent:hr"} <= set(document["scopes_supported"])
    assert inserted.headers["access-control-allow-origin"] == "*"
    assert preflight.status_code == 200


@pytest.mark.parametrize(
    ("case", "claims", "header"),
    [
        ("expired", {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, {}),
        ("not yet valid", {"nbf": int(time.time()) + 3600}, {}),
        ("wrong issuer", {"iss": "http://127.0.0.1:9/elsewhere"}, {}),
        ("wrong audience", {"aud": "https://another.example"}, {}),
        ("unknown key id", {}, {"kid": "rotated-away"}),
        ("id token type", {}, {"typ": "JWT+id"}),
    ],
)
def test_forged_tokens_signed_by_the_issuer_are_refused(
    setup: Setup, case: str, claims: dict[str, object], header: dict[str, object]
) -> None:
    token = setup.idp.forge({"aud": setup.bridge, **claims}, **header)
    _assert_invalid_token(_post(f"{setup.bridge}/mcp", _bearer(token)), setup)


def test_a_forged_token_with_the_right_claims_is_accepted(setup: Setup) -> None:
    """The control for the matrix above: the same forging, nothing wrong, gets in."""
    token = setup.idp.forge({"aud": setup.bridge})
    assert _post(f"{setup.bridge}/mcp", _bearer(token)).status_code == 200
    extra_audience = setup.idp.forge({"aud": "urn:agent-bridge:test"})  # `[oauth] audience` adds it
    assert _post(f"{setup.bridge}/mcp", _bearer(extra_audience)).status_code == 200


def test_a_real_token_for_another_resource_is_refused(setup: Setup) -> None:
    token = setup.idp.client_credentials(resource="https://another.example/", scope="agent:*")
    _assert_invalid_token(_post(f"{setup.bridge}/mcp", _bearer(token)), setup)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_broken_signature_is_refused(setup: Setup) -> None:
    header, payload, signature = _segments(setup.idp.client_credentials(resource=setup.bridge, scope="agent:*"))
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = f"{header}.{_b64({**claims, 'scope': 'agent:* agent:hr'})}.{signature}"
    _assert_invalid_token(_post(f"{setup.bridge}/mcp", _bearer(tampered)), setup)


def test_alg_none_is_refused(setup: Setup) -> None:
    claims = {"iss": setup.idp.issuer, "aud": setup.bridge, "sub": "x", "exp": int(time.time()) + 600}
    token = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}."
    _assert_invalid_token(_post(f"{setup.bridge}/mcp", _bearer(token)), setup)


def test_hs256_signed_with_the_public_key_is_refused(setup: Setup) -> None:
    """The algorithm-confusion attack: the issuer's public key used as an HMAC secret."""
    from cryptography.hazmat.primitives import serialization

    public_pem = (
        setup.idp.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    claims = {"iss": setup.idp.issuer, "aud": setup.bridge, "sub": "x", "exp": int(time.time()) + 600}
    token = f"{_b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': 'test-signing-key'})}.{_b64(claims)}"
    import hashlib
    import hmac

    signature = hmac.new(public_pem.encode(), token.encode(), hashlib.sha256).digest()
    token += "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    _assert_invalid_token(_post(f"{setup.bridge}/mcp", _bearer(token)), setup)


def test_a_scope_that_does_not_cover_the_agent_is_a_403_insufficient_scope(setup: Setup) -> None:
    token = setup.idp.client_credentials(resource=setup.bridge, scope="agent:support")
    refused = _post(f"{setup.bridge}/agents/hr/mcp", _bearer(token))
    assert refused.status_code == 403, refused.text
    challenge = _challenge(refused)
    assert challenge["error"] == "insufficient_scope"
    assert challenge["scope"] == "agent:hr"
    assert challenge["resource_metadata"].endswith("/.well-known/oauth-protected-resource/agents/hr/mcp")
    assert refused.json()["error"]["data"]["status"] == 403
    assert _post(f"{setup.bridge}/agents/support/mcp", _bearer(token)).status_code == 200
    listed = _post(f"{setup.bridge}/mcp", _bearer(token), TOOLS_LIST)
    assert "Northwind Support" in listed.text and "Acme HR" not in listed.text


def test_no_agent_scope_is_a_403_asking_for_agent_star(setup: Setup) -> None:
    token = setup.idp.forge({"aud": setup.bridge, "scope": "openid"})
    refused = _post(f"{setup.bridge}/mcp", _bearer(token))
    assert refused.status_code == 403
    assert _challenge(refused)["scope"] == "agent:*"


def test_an_access_token_in_the_query_string_is_refused(setup: Setup) -> None:
    token = setup.idp.client_credentials(resource=setup.bridge, scope="agent:*")
    _assert_invalid_token(_post(f"{setup.bridge}/mcp?access_token={token}"), setup)
    _assert_invalid_token(_post(f"{setup.bridge}/mcp?token={token}"), setup)


def test_static_tokens_keep_working_beside_oauth(setup: Setup) -> None:
    assert _post(f"{setup.bridge}/mcp", _bearer(TOKENS["all"][0])).status_code == 200
    assert _post(f"{setup.bridge}/mcp?token={TOKENS['support'][0]}").status_code == 200
    _assert_invalid_token(_post(f"{setup.bridge}/mcp", _bearer("not-a-token")), setup)


def test_a_token_never_appears_in_a_refusal(setup: Setup) -> None:
    token = setup.idp.forge({"aud": "https://another.example"})
    response = _post(f"{setup.bridge}/mcp", _bearer(token))
    assert response.status_code == 401
    assert token not in response.text and token not in response.headers["www-authenticate"]
    for segment in token.split("."):
        assert segment not in response.text


def _check_config(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_warns_about_an_issuer_without_pkce(
    setup: Setup, sandbox_session: SandboxProcess, tmp_path: Path
) -> None:
    port = free_port()
    no_pkce = f"http://127.0.0.1:{port}"
    well_known = tmp_path / "site" / ".well-known"
    well_known.mkdir(parents=True)
    document = {"issuer": no_pkce, "jwks_uri": f"{no_pkce}/jwks", "token_endpoint": f"{no_pkce}/token"}
    (well_known / "openid-configuration").write_text(json.dumps(document))
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path / "site")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx2.Client(timeout=1) as http:
            for _ in range(100):
                try:
                    http.get(no_pkce)
                    break
                except httpx2.TransportError:
                    time.sleep(0.05)
        tables = ["[oauth]", f'issuer = ["{setup.idp.issuer}", "{no_pkce}"]']
        config = write_http_config(
            tmp_path / "bridge.toml",
            sandbox_session.url,
            extra_server=['public_url = "https://bridge.example.com"'],
            extra_tables=tables,
        )
        checked = _check_config(config)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert checked.returncode == 0, checked.stderr
    assert "oauth: resource https://bridge.example.com" in checked.stdout
    warnings = [line for line in checked.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1, checked.stderr  # the real provider offers S256; the static one does not
    assert no_pkce in warnings[0] and "code_challenge_methods_supported" in warnings[0]


@pytest.fixture(scope="module")
def sessions_bridge(
    setup: Setup, sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory
) -> Generator[str]:
    """Stateful Streamable HTTP sessions, the same issuer."""
    folder = tmp_path_factory.mktemp("oauth-sessions")
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    config = write_http_config(
        folder / "bridge.toml",
        sandbox_session.url,
        extra_server=[f'public_url = "{public_url}"', "stateless = false"],
        extra_tables=["[oauth]", f'issuer = "{setup.idp.issuer}"'],
    )
    with running_bridge(config, "--port", str(port)) as bridge:
        yield bridge.url


def test_a_session_opened_by_one_subject_is_refused_to_another(setup: Setup, sessions_bridge: str) -> None:
    alice = _bearer(setup.idp.forge({"aud": sessions_bridge, "sub": "alice"}))
    mallory = _bearer(setup.idp.forge({"aud": sessions_bridge, "sub": "mallory"}))
    opened = _post(f"{sessions_bridge}/mcp", alice)
    assert opened.status_code == 200
    session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-06-18"}
    _post(f"{sessions_bridge}/mcp", {**alice, **session}, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    other = _post(f"{sessions_bridge}/mcp", {**mallory, **session}, TOOLS_LIST)
    owner = _post(f"{sessions_bridge}/mcp", {**alice, **session}, TOOLS_LIST)
    assert other.status_code == 404  # as if the session did not exist
    assert owner.status_code == 200 and "support_ask" in owner.text


async def test_an_sse_session_takes_messages_only_from_its_subject(setup: Setup) -> None:
    alice = _bearer(setup.idp.forge({"aud": setup.bridge, "sub": "alice"}))
    mallory = _bearer(setup.idp.forge({"aud": setup.bridge, "sub": "mallory"}))
    async with (
        httpx2.AsyncClient(timeout=20) as http,
        http.stream("GET", f"{setup.bridge}/sse", headers=alice) as stream,
    ):
        assert stream.status_code == 200
        endpoint = ""
        lines = stream.aiter_lines()  # held: breaking out of an un-held iterator would close the stream
        async for line in lines:
            if line.startswith("data: "):
                endpoint = line.removeprefix("data: ")
                break
        url = f"{setup.bridge}{endpoint}"
        other = await http.post(url, json=INITIALIZE, headers=mallory)
        nothing = await http.post(url, json=INITIALIZE)
        owner = await http.post(url, json=INITIALIZE, headers=alice)
    assert other.status_code == 403
    assert nothing.status_code == 401 and "resource_metadata=" in nothing.headers["www-authenticate"]
    assert owner.status_code == 202


def test_an_opaque_token_is_checked_by_introspection(setup: Setup) -> None:
    token = setup.idp.client_credentials(resource="urn:agent-bridge:opaque", scope="agent:support")
    assert token.count(".") != 2  # opaque, not a JWT
    assert _post(f"{setup.bridge}/agents/support/mcp", _bearer(token)).status_code == 200
    assert _post(f"{setup.bridge}/agents/support/mcp", _bearer(token)).status_code == 200  # cached answer
    assert _post(f"{setup.bridge}/agents/hr/mcp", _bearer(token)).status_code == 403  # its scope holds


def test_an_opaque_token_for_another_resource_or_unknown_is_refused(setup: Setup) -> None:
    other = setup.idp.client_credentials(resource="urn:another:opaque", scope="agent:*")
    _assert_invalid_token(_post(f"{setup.bridge}/mcp", _bearer(other)), setup)
    _assert_invalid_token(_post(f"{setup.bridge}/mcp", _bearer("made-up-opaque-token-1234567890")), setup)


def test_a_groups_claim_maps_to_agents(setup: Setup) -> None:
    token = setup.idp.forge({"aud": setup.bridge, "scope": "openid", "groups": ["hr-team", "unmapped"]})
    assert _post(f"{setup.bridge}/agents/hr/mcp", _bearer(token)).status_code == 200
    assert _post(f"{setup.bridge}/agents/support/mcp", _bearer(token)).status_code == 403


def test_passthrough_never_forwards_an_access_token_upstream(
    setup: Setup, sandbox_session: SandboxProcess, tmp_path: Path
) -> None:
    """With passthrough on, an unknown credential on /projects/{id}/ is taken for an upstream key;
    an OAuth access token is not: it is checked as one, and project 3 is simply not an agent here."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    config = write_http_config(
        tmp_path / "bridge.toml",
        sandbox_session.url,
        extra_server=[f'public_url = "{public_url}"', "passthrough = true"],
        extra_tables=["[oauth]", f'issuer = "{setup.idp.issuer}"'],
    )
    with running_bridge(config, "--port", str(port)) as bridge:
        token = setup.idp.client_credentials(resource=public_url, scope="agent:*")
        unknown_project = _post(f"{bridge.url}/projects/3/mcp", _bearer(token))
        known_project = _post(f"{bridge.url}/projects/2/mcp", _bearer(token))
        upstream_key = _post(f"{bridge.url}/projects/2/mcp", {"X-API-Key": "sandbox-key"})
    assert unknown_project.status_code == 404, unknown_project.text
    assert "No agent serves that project" in unknown_project.text
    assert known_project.status_code == 200
    assert upstream_key.status_code == 200  # passthrough itself still works
