"""The Actions facade with OAuth on (built-in server): `?auth=oauth` documents declare an OAuth 2.0
authorization-code flow at the bridge's own `/authorize` and `/token`, a client signs in through the
URLs the document names, as a GPT's Actions would, and the facade's refusals carry the same
`WWW-Authenticate` challenge as the MCP endpoints."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from openapi_spec_validator import validate

from tests.oauth.browser import sign_in
from tests.support.bridge_http import TOKENS, BridgeProcess

GPT_CALLBACK = "https://chatgpt.com/aip/g-0123456789abcdef/oauth/callback"


def _challenge(response: httpx2.Response) -> dict[str, str]:
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer ")
    fields: dict[str, str] = {}
    for part in header.removeprefix("Bearer ").split('", '):
        name, _, value = part.partition("=")
        fields[name.strip()] = value.strip().strip('"')
    return fields


def _flow(document: dict[str, Any]) -> dict[str, Any]:
    schemes = document["components"]["securitySchemes"]
    assert list(schemes) == ["oauth2"]  # one scheme: the GPT editor takes one
    assert schemes["oauth2"]["type"] == "oauth2"
    return schemes["oauth2"]["flows"]["authorizationCode"]


@pytest.mark.parametrize("version", ["3.1", "3.0"])
def test_oauth_documents_name_the_built_in_server(bridge: BridgeProcess, version: str) -> None:
    one = httpx2.get(f"{bridge.url}/actions/support/openapi.json?auth=oauth&openapi={version}", timeout=20)
    combined = httpx2.get(f"{bridge.url}/actions/openapi.json?auth=oauth&openapi={version}", timeout=20)
    assert one.status_code == 200 and combined.status_code == 200, (one.text, combined.text)
    validate(one.json())
    validate(combined.json())
    flow = _flow(one.json())
    assert flow["authorizationUrl"] == f"{bridge.url}/authorize"
    assert flow["tokenUrl"] == flow["refreshUrl"] == f"{bridge.url}/token"
    assert list(flow["scopes"]) == ["agent:support"]
    assert one.json()["security"] == [{"oauth2": ["agent:support"]}]
    assert {"agent:*", "agent:support", "agent:hr"} <= set(_flow(combined.json())["scopes"])
    bearer = httpx2.get(f"{bridge.url}/actions/support/openapi.json", timeout=20).json()
    assert bearer["components"]["securitySchemes"] == {"bearerAuth": {"type": "http", "scheme": "bearer"}}


def test_a_client_signs_in_where_the_document_says_and_calls_an_action(bridge: BridgeProcess) -> None:
    flow = _flow(httpx2.get(f"{bridge.url}/actions/support/openapi.json?auth=oauth", timeout=20).json())
    with httpx2.Client(timeout=20) as http:
        registered = http.post(
            f"{bridge.url}/register",
            json={
                "redirect_uris": [GPT_CALLBACK],
                "client_name": "My GPT",
                "token_endpoint_auth_method": "client_secret_post",
            },
        )
        assert registered.status_code == 201, registered.text
        client = registered.json()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": GPT_CALLBACK,
            "scope": " ".join(flow["scopes"]),
            "state": "gpt-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        landed = sign_in(f"{flow['authorizationUrl']}?{urlencode(query)}", TOKENS["support"][0])
        assert landed.startswith(GPT_CALLBACK)
        code = parse_qs(urlsplit(landed).query)["code"][0]
        issued = http.post(
            flow["tokenUrl"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": GPT_CALLBACK,
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
                "code_verifier": verifier,
            },
        )
        assert issued.status_code == 200, issued.text
        bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        sources = http.get(f"{bridge.url}/actions/support/sources", headers=bearer)
        other = http.get(f"{bridge.url}/actions/hr/sources", headers=bearer)
        missing = http.get(f"{bridge.url}/actions/nobody/sources", headers=bearer)
    assert sources.status_code == 200, sources.text
    assert other.status_code == 403, other.text  # as on /agents/hr/mcp: the client asks for more consent
    assert other.json()["error"] == "forbidden"
    challenged = _challenge(other)
    assert challenged["error"] == "insufficient_scope" and challenged["scope"] == "agent:hr"
    assert challenged["resource_metadata"] == f"{bridge.url}/.well-known/oauth-protected-resource/actions/hr/sources"
    assert missing.status_code == 404 and "www-authenticate" not in missing.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/actions/support/ask"), ("GET", "/actions/hr/citations?query=leave"), ("GET", "/actions/hr/sources")],
)
def test_refusals_carry_the_mcp_endpoints_challenge(bridge: BridgeProcess, method: str, path: str) -> None:
    agent = path.split("/")[2]
    with httpx2.Client(timeout=20) as http:
        for headers in ({}, {"Authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}):
            refused = http.request(method, f"{bridge.url}{path}", headers=headers, json={"question": "hi"})
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"] == "unauthorized"
            challenged = _challenge(refused)
            assert challenged["error"] == "invalid_token" and challenged["scope"] == f"agent:{agent}"
            metadata_url = challenged["resource_metadata"]
            assert metadata_url == f"{bridge.url}/.well-known/oauth-protected-resource{path.split('?')[0]}"
            metadata = http.get(metadata_url)
            assert metadata.status_code == 200 and metadata.json()["resource"] == bridge.url
        mcp = http.post(f"{bridge.url}/agents/{agent}/mcp", json={})
    assert _challenge(mcp)["scope"] == f"agent:{agent}"  # the same scope as the agent's MCP endpoint
