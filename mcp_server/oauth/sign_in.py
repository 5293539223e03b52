"""The built-in server's sign-in page: plain HTML, no JavaScript, nothing echoed back that is secret.
Its forms post to relative URLs, so a proxy that serves the bridge under a base path keeps working.

1. `GET /oauth/sign-in?request=…` (where `/authorize` sends the browser): which client asks, and a
   password field `token` for a bridge token.
2. `POST /oauth/sign-in`: a wrong token gets the form again with an error (and no code); a right one
   gets the consent page naming the client and the agents it would get, carrying a one-time ticket
   (never the token) to the last step.
3. `POST /oauth/consent`: "Allow" sends the browser back to the client with a code, `state` and `iss`
   (RFC 9207); "Deny" sends it back with `error=access_denied`.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Callable, Iterable
from typing import Final
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizationParams, construct_redirect_uri
from mcp.shared.auth import OAuthClientInformationFull
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from mcp_server.auth import TokenBook
from mcp_server.oauth.authorization_server import BuiltInAuthorizationServer, digest
from mcp_server.oauth.scopes import AGENT_PREFIX, ALL_AGENTS, agent_scope

TICKET_SECONDS: Final = 300.0
PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
STYLE: Final = (
    "body{font:16px system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "input[type=password]{width:100%;padding:.5rem;font:inherit}button{padding:.5rem 1.2rem;font:inherit}"
    ".error{color:#a00}code{background:#f2f2f2;padding:0 .2rem}"
)


def granted_scopes(requested: Iterable[str] | None, token_agents: frozenset[str] | None) -> list[str]:
    """The agent scopes to grant: those requested (all when none is), within the token's agents."""
    wanted = [s for s in requested or () if s.startswith(AGENT_PREFIX)] or [ALL_AGENTS]
    granted: set[str] = set()
    for scope in wanted:
        name = scope.removeprefix(AGENT_PREFIX)
        if name == "*":
            granted |= {ALL_AGENTS} if token_agents is None else {agent_scope(a) for a in token_agents}
        elif token_agents is None or name in token_agents:
            granted.add(scope)
    return sorted(granted)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{STYLE}</style></head>'
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=PAGE_HEADERS)


def _client_line(client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
    name = client.client_name or client.client_id or "an application"
    host = urlsplit(str(params.redirect_uri)).netloc or str(params.redirect_uri)
    return (
        f"<p><strong>{html.escape(name)}</strong> asks to use this Agent Bridge on your behalf. "
        f"After you agree it continues at <code>{html.escape(host)}</code>.</p>"
    )


class SignInPages:
    def __init__(
        self, server: BuiltInAuthorizationServer, tokens: TokenBook, agent_names: Callable[[], list[str]]
    ) -> None:
        self._server = server
        self._tokens = tokens
        self._agent_names = agent_names

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/sign-in", self.form, methods=["GET"]),
            Route("/oauth/sign-in", self.sign_in, methods=["POST"]),
            Route("/oauth/consent", self.consent, methods=["POST"]),
        ]

    async def _pending(self, request_id: str) -> tuple[OAuthClientInformationFull, AuthorizationParams] | None:
        stored = await self._server.store.get("request", request_id) if request_id else None
        if stored is None:
            return None
        pending = json.loads(stored)
        client = await self._server.get_client(str(pending["client_id"]))
        if client is None:
            return None
        return client, AuthorizationParams.model_validate(pending["params"])

    @staticmethod
    def _expired() -> HTMLResponse:
        return _page(
            "Sign-in expired",
            "<p>This sign-in request is unknown or has expired. Go back to your application and connect again.</p>",
            400,
        )

    def _form(
        self, request_id: str, client: OAuthClientInformationFull, params: AuthorizationParams, error: str = ""
    ) -> HTMLResponse:
        problem = f'<p class="error">{html.escape(error)}</p>' if error else ""
        body = (
            f"{_client_line(client, params)}{problem}"
            '<form method="post" action="sign-in">'
            f'<input type="hidden" name="request" value="{html.escape(request_id)}">'
            '<p><label for="token">Your Agent Bridge token</label></p>'
            '<p><input type="password" id="token" name="token" autocomplete="off" required autofocus></p>'
            "<p>Ask the bridge's operator for one (<code>agent-bridge token new</code>).</p>"
            "<p><button type=submit>Continue</button></p></form>"
        )
        return _page("Sign in to Agent Bridge", body, 401 if error else 200)

    async def form(self, request: Request) -> Response:
        request_id = request.query_params.get("request", "")
        pending = await self._pending(request_id)
        if pending is None:
            return self._expired()
        return self._form(request_id, *pending)

    async def sign_in(self, request: Request) -> Response:
        form = await request.form()
        request_id = str(form.get("request", ""))
        pending = await self._pending(request_id)
        if pending is None:
            return self._expired()
        client, params = pending
        identity = self._tokens.identify(str(form.get("token", "")).strip())
        if identity is None:
            return self._form(
                request_id, client, params, "That token is not valid on this bridge. Check it and try again."
            )
        scopes = granted_scopes(params.scopes, identity.scope.agents)
        if not scopes:
            return self._form(
                request_id, client, params, "That token grants none of the agents this application asks for."
            )
        ticket = secrets.token_urlsafe(24)
        grant = {"request": request_id, "subject": identity.principal, "scopes": scopes}
        await self._server.store.put("ticket", digest(ticket), json.dumps(grant), TICKET_SECONDS)
        agents = sorted(self._agent_names()) if ALL_AGENTS in scopes else [s.removeprefix(AGENT_PREFIX) for s in scopes]
        listed = "".join(f"<li>{html.escape(name)}</li>" for name in agents) or "<li>(none yet)</li>"
        body = (
            f"{_client_line(client, params)}<p>Signed in as <strong>{html.escape(identity.name)}</strong>. "
            f"It would get these agents{' (and any added later)' if ALL_AGENTS in scopes else ''}:</p>"
            f"<ul>{listed}</ul>"
            '<form method="post" action="consent">'
            f'<input type="hidden" name="request" value="{html.escape(request_id)}">'
            f'<input type="hidden" name="ticket" value="{html.escape(ticket)}">'
            '<p><button type=submit name="decision" value="allow">Allow</button> '
            '<button type=submit name="decision" value="deny">Deny</button></p></form>'
        )
        return _page("Allow access?", body)

    async def consent(self, request: Request) -> Response:
        form = await request.form()
        request_id = str(form.get("request", ""))
        stored = await self._server.store.take("ticket", digest(str(form.get("ticket", ""))))
        grant = json.loads(stored) if stored is not None else None
        pending = await self._pending(request_id)
        if grant is None or pending is None or grant["request"] != request_id:
            return self._expired()
        await self._server.store.take("request", request_id)
        client, params = pending
        redirect = str(params.redirect_uri)
        if form.get("decision") != "allow":
            target = construct_redirect_uri(
                redirect, error="access_denied", state=params.state, iss=self._server.issuer
            )
            return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
        assert client.client_id is not None
        code = await self._server.issue_code(client.client_id, params, str(grant["subject"]), list(grant["scopes"]))
        target = construct_redirect_uri(redirect, code=code, state=params.state, iss=self._server.issuer)
        return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
