"""The built-in authorization server against the MCP Python SDK's own OAuth client: discovery,
dynamic registration, PKCE, the sign-in form (posted by the test as a person would), the token,
a refresh that rotates, and then `ask` through the SDK client."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.lowlevel
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.oauth.browser import form_fields
from tests.oauth.sdk_client import REDIRECT, Memory, Person, provider
from tests.support.bridge_http import TOKENS, BridgeProcess

pytestmark = pytest.mark.anyio

JSONRPC = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def test_the_sdk_oauth_client_signs_in_refreshes_and_asks(bridge: BridgeProcess) -> None:
    person, storage = Person(TOKENS["support"][0]), Memory()
    async with (
        httpx2.AsyncClient(auth=provider(bridge, person, storage, "/mcp"), timeout=30) as http,
        Client(streamable_http_client(f"{bridge.url}/mcp", http_client=http)) as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
    assert "ask" in names and not any(n.startswith("hr_") for n in names)  # one agent: unprefixed tool names
    assert not result.is_error and "90 days" in json.dumps(result.structured_content)
    assert "Northwind Support" not in person.pages[0]  # the form shows the client, not the agents
    assert "support" in person.pages[1] and "SDK test client" in person.pages[1]
    assert TOKENS["support"][0] not in "".join(person.pages)  # the pasted token is never echoed

    assert storage.tokens is not None and storage.client is not None
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert claims["aud"] == bridge.url and claims["iss"] == bridge.url
    assert claims["scope"] == "agent:support"  # the support token's agents, whatever was asked
    assert jwt.get_unverified_header(storage.tokens.access_token)["alg"] == "ES256"

    # Refresh: a new pair; the old refresh token is then refused (rotation).
    old_refresh = storage.tokens.refresh_token
    assert old_refresh is not None
    form = {"grant_type": "refresh_token", "refresh_token": old_refresh, "client_id": storage.client.client_id}
    if storage.client.client_secret:
        form["client_secret"] = storage.client.client_secret
    async with httpx2.AsyncClient(timeout=10) as http:
        refreshed = await http.post(f"{bridge.url}/token", data=form)
        again = await http.post(f"{bridge.url}/token", data=form)
        new = refreshed.json()
        works = await http.post(
            f"{bridge.url}/agents/support/mcp",
            headers={**JSONRPC, "Authorization": f"Bearer {new['access_token']}"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        hr = await http.post(
            f"{bridge.url}/agents/hr/mcp",
            headers={**JSONRPC, "Authorization": f"Bearer {new['access_token']}"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        bearer = {"Authorization": f"Bearer {new['access_token']}"}
        action = await http.get(f"{bridge.url}/actions/support/sources", headers=bearer)
        other_action = await http.get(f"{bridge.url}/actions/hr/sources", headers=bearer)
        no_action = await http.get(f"{bridge.url}/actions/support/sources")
        revoked = await http.post(
            f"{bridge.url}/revoke",
            data={
                "token": new["refresh_token"],
                "client_id": storage.client.client_id,
                **({"client_secret": storage.client.client_secret} if storage.client.client_secret else {}),
            },
        )
        after_revoke = await http.post(f"{bridge.url}/token", data={**form, "refresh_token": new["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert new["refresh_token"] != old_refresh and new["access_token"] != storage.tokens.access_token
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert works.status_code == 200 and "ask" in works.text
    assert hr.status_code == 403 and 'scope="agent:hr"' in hr.headers["www-authenticate"]
    assert action.status_code == 200, action.text  # the Actions facade takes the same access tokens
    assert other_action.status_code == 403 and no_action.status_code == 401  # 403: as /agents/hr/mcp
    assert revoked.status_code == 200
    assert after_revoke.status_code == 400


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def _registered(http: httpx2.AsyncClient, url: str) -> dict[str, str]:
    response = await http.post(
        f"{url}/register",
        json={"redirect_uris": [REDIRECT], "client_name": "hand", "token_endpoint_auth_method": "none"},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_metadata_advertises_s256_iss_and_client_documents(bridge: BridgeProcess) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        metadata = (await http.get(f"{bridge.url}/.well-known/oauth-authorization-server")).json()
        resource = (await http.get(f"{bridge.url}/.well-known/oauth-protected-resource/mcp")).json()
    assert metadata["issuer"] == bridge.url
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["client_id_metadata_document_supported"] is True
    assert {"authorization_code", "refresh_token"} <= set(metadata["grant_types_supported"])
    assert metadata["registration_endpoint"] == f"{bridge.url}/register"
    assert resource["authorization_servers"] == [bridge.url]


async def test_a_wrong_pasted_token_gets_the_form_again_and_no_code(bridge: BridgeProcess) -> None:
    _, challenge = _pkce()
    async with httpx2.AsyncClient(timeout=10) as http:
        client = await _registered(http, bridge.url)
        sent = await http.get(
            f"{bridge.url}/authorize",
            params={
                "response_type": "code",
                "client_id": client["client_id"],
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "s1",
            },
        )
        request_id = parse_qs(urlsplit(sent.headers["location"]).query)["request"][0]
        wrong = await http.post(f"{bridge.url}/oauth/sign-in", data={"request": request_id, "token": "tok-wrong"})
    assert wrong.status_code == 401
    assert "not valid" in wrong.text and form_fields(wrong.text).password_fields == ["token"]
    assert "location" not in wrong.headers and "code=" not in wrong.text and "tok-wrong" not in wrong.text


async def test_authorize_without_pkce_or_with_a_foreign_redirect_is_refused(bridge: BridgeProcess) -> None:
    _, challenge = _pkce()
    async with httpx2.AsyncClient(timeout=10) as http:
        client = await _registered(http, bridge.url)
        base = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT, "state": "s"}
        no_pkce = await http.get(f"{bridge.url}/authorize", params=base)
        plain = await http.get(
            f"{bridge.url}/authorize", params={**base, "code_challenge": challenge, "code_challenge_method": "plain"}
        )
        foreign = await http.get(
            f"{bridge.url}/authorize",
            params={**base, "redirect_uri": "https://evil.example/cb", "code_challenge": challenge},
        )
        bad_registration = await http.post(
            f"{bridge.url}/register", json={"redirect_uris": ["http://evil.example/cb"], "client_name": "x"}
        )
    assert "/oauth/sign-in" not in no_pkce.headers.get("location", "")
    assert "/oauth/sign-in" not in plain.headers.get("location", "")
    assert foreign.status_code == 400 and "location" not in foreign.headers
    assert bad_registration.status_code == 400 and bad_registration.json()["error"] == "invalid_redirect_uri"


async def test_a_code_is_good_once_and_needs_its_verifier(bridge: BridgeProcess) -> None:
    verifier, challenge = _pkce()
    async with httpx2.AsyncClient(timeout=10) as http:
        client = await _registered(http, bridge.url)
        sent = await http.get(
            f"{bridge.url}/authorize",
            params={
                "response_type": "code",
                "client_id": client["client_id"],
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "s2",
                "scope": "agent:*",
            },
        )
        request_id = parse_qs(urlsplit(sent.headers["location"]).query)["request"][0]
        page = await http.post(
            f"{bridge.url}/oauth/sign-in", data={"request": request_id, "token": TOKENS["hr-ask"][0]}
        )
        consent = form_fields(page.text).inputs
        back = await http.post(f"{bridge.url}/oauth/consent", data={**consent, "decision": "allow"})
        query = parse_qs(urlsplit(back.headers["location"]).query)
        token_form = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT,
            "client_id": client["client_id"],
        }
        wrong_verifier = await http.post(f"{bridge.url}/token", data={**token_form, "code_verifier": "x" * 50})
        issued = await http.post(f"{bridge.url}/token", data={**token_form, "code_verifier": verifier})
        replay = await http.post(f"{bridge.url}/token", data={**token_form, "code_verifier": verifier})
        listed = await http.post(
            f"{bridge.url}/mcp",
            headers={**JSONRPC, "Authorization": f"Bearer {issued.json()['access_token']}"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
    assert query["state"] == ["s2"] and query["iss"] == [bridge.url]
    assert wrong_verifier.status_code == 400
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == "agent:hr"  # agent:* asked, the hr-ask token grants hr only
    assert replay.status_code == 400
    names = re.findall(r'"name":"([a-z_]+)"', listed.text)
    assert names == ["ask"]  # and its tool limit (ask only) holds for the OAuth token too
    await anyio.lowlevel.checkpoint()
