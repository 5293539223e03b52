"""The MCP Python SDK's own OAuth client against the built-in server: its token storage in memory, and
a person who follows the authorization URL, pastes a bridge token and consents (done with httpx)."""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from tests.oauth.browser import form_fields
from tests.support.bridge_http import BridgeProcess

REDIRECT = "http://127.0.0.1:1/callback"  # the client never listens: the test reads the redirect itself


class Memory:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Person:
    """Follows the authorization URL in a 'browser' (httpx), pastes a bridge token, consents."""

    def __init__(self, bridge_token: str) -> None:
        self.bridge_token = bridge_token
        self.redirect: str | None = None
        self.pages: list[str] = []

    async def open(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(timeout=20, follow_redirects=False) as browser:
            sent = await browser.get(authorization_url)
            assert sent.status_code == 302, sent.text
            form_page = await browser.get(sent.headers["location"])
            assert form_page.status_code == 200
            self.pages.append(form_page.text)
            fields = form_fields(form_page.text)
            assert fields.password_fields == ["token"]
            form_url = sent.headers["location"]  # its forms' actions are relative to it, as a browser reads them
            consent_page = await browser.post(
                urljoin(form_url, fields.action), data={"request": fields.inputs["request"], "token": self.bridge_token}
            )
            assert consent_page.status_code == 200, consent_page.text
            self.pages.append(consent_page.text)
            consent_form = form_fields(consent_page.text)
            consent = consent_form.inputs
            back = await browser.post(
                urljoin(form_url, consent_form.action),
                data={"request": consent["request"], "ticket": consent["ticket"], "decision": "allow"},
            )
            assert back.status_code == 303
            self.redirect = back.headers["location"]

    async def callback(self) -> AuthorizationCodeResult:
        assert self.redirect is not None and self.redirect.startswith(REDIRECT)
        query = parse_qs(urlsplit(self.redirect).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query["iss"][0])


def provider(bridge: BridgeProcess, person: Person, storage: Memory, path: str) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=f"{bridge.url}{path}",
        client_metadata=OAuthClientMetadata(
            redirect_uris=[AnyUrl(REDIRECT)],
            client_name="SDK test client",
            grant_types=["authorization_code", "refresh_token"],
        ),
        storage=storage,
        redirect_handler=person.open,
        callback_handler=person.callback,
    )
