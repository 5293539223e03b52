"""Client tokens: where a request carries one, how it is checked, and whom it makes the caller.

Tokens are stored only as sha256 hex digests. A presented token is hashed and compared with every
configured digest by `hmac.compare_digest`, so the time taken does not depend on which (if any)
matched. A token's *name* may be logged; its value never is.

Every caller has a *principal*, the string the transports compare to keep one caller out of
another's session and conversations: `token:<name>` for a configured token, `key:<hash>` for an
upstream key presented in passthrough mode (a one-way hash; the key itself is never kept), and
`open` when no tokens are configured.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from mcp_server.agents import EVERYTHING, AccessScope
from mcp_server.config import TokenConfig
from mcp_server.errors import Refusal

OPEN_PRINCIPAL: Final = "open"


HOW_TO_PASS_A_TOKEN: Final = (
    "Send it as 'Authorization: Bearer <token>', 'X-API-Key: <token>' or '?token=<token>'; "
    "an operator creates one with 'agent-bridge token new'."
)


_ERROR_CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    421: "misdirected_request",
    429: "too_many_requests",
    503: "unavailable",
}


REFUSED: Final = -32001  # a JSON-RPC server error: the request was refused before it reached MCP


def refusal_response(refusal: Refusal, challenge: dict[str, str] | None = None) -> Response:
    """A refusal as a JSON-RPC error body every MCP client can show (the SDKs read `error.message`),
    with the HTTP status, `WWW-Authenticate` for a 401 (`challenge` when OAuth gives a richer one),
    and `message`/`reason` at the top for people and scripts reading the JSON directly."""
    headers = {"WWW-Authenticate": 'Bearer realm="agent-bridge"'} if refusal.status == 401 else None
    if challenge:
        headers = challenge
    reason = _ERROR_CODES.get(refusal.status, "error")
    sentence = str(refusal)
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32600 if refusal.status == 400 else REFUSED,
            "message": f"{reason.replace('_', ' ').capitalize()}: {sentence}",
            "data": {"status": refusal.status, "reason": reason},
        },
        "reason": reason,
        "message": sentence,
    }
    return JSONResponse(body, status_code=refusal.status, headers=headers)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented_credential(connection: HTTPConnection, *, query_token: bool = True) -> str | None:
    """`Authorization: Bearer T`, then `X-API-Key: T`, then (where `query_token`) `?token=T`, for
    clients that cannot send headers."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = connection.headers.get("x-api-key", "").strip()
    if api_key:
        return api_key
    if not query_token:
        return None
    token = connection.query_params.get("token", "").strip()
    return token or None


def authorization_bearer(connection: HTTPConnection) -> str | None:
    """The token of `Authorization: Bearer T`, the only place an OAuth access token is read from."""
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def credential_in_query(connection: HTTPConnection) -> str | None:
    """The `?token=` credential when it is the one the request presents (no header carries one)."""
    if presented_credential(connection, query_token=False) is not None:
        return None
    return presented_credential(connection)


def key_principal(credential: str) -> str:
    """The principal of an upstream key (passthrough): a one-way hash, never the key. The same in every
    worker and replica, so the conversations a key starts stay its own wherever its requests land."""
    return "key:" + hashlib.sha256(b"agent-bridge passthrough principal\0" + credential.encode()).hexdigest()[:32]


def same_principal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request acts as: a configured token's name and scope, an upstream key, or open access."""

    name: str
    scope: AccessScope
    principal: str
    oauth: bool = False  # an OAuth access token: an agent it does not cover is a 403 asking for scope

    def user(self) -> AuthenticatedUser:
        """The SDK's user object: the session manager binds a stateful session to its `client_id`."""
        return AuthenticatedUser(AccessToken(token="", client_id=self.principal, scopes=[]))


OPEN_ACCESS: Final = Identity(name="(no tokens configured)", scope=EVERYTHING, principal=OPEN_PRINCIPAL)


PASSTHROUGH_SCOPE: Final = AccessScope(label="passthrough")


def passthrough_identity(upstream_key: str) -> Identity:
    return Identity(name="passthrough", scope=PASSTHROUGH_SCOPE, principal=key_principal(upstream_key))


class TokenBook:
    def __init__(self, tokens: tuple[TokenConfig, ...]) -> None:
        self.replace(tokens)

    def replace(self, tokens: tuple[TokenConfig, ...]) -> None:
        """Use `tokens` from now on (a configuration reload); requests already admitted are not affected."""
        self._entries = [
            (
                bytes.fromhex(t.sha256),
                Identity(t.name, AccessScope.of(t.agents, t.tools, t.name, t.scopes), f"token:{t.name}"),
            )
            for t in tokens
        ]

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def identify(self, token: str) -> Identity | None:
        digest = hashlib.sha256(token.encode()).digest()
        found: Identity | None = None
        for expected, identity in self._entries:  # no early exit: every digest is compared
            if hmac.compare_digest(digest, expected):
                found = identity
        return found

    def by_subject(self, subject: str) -> Identity | None:
        """The configured token whose principal is `subject` (`token:<name>`), if it still exists."""
        return next((identity for _, identity in self._entries if identity.principal == subject), None)

    def authenticate(self, credential: str | None) -> Identity:
        """The caller's identity, or a 401 refusal that says how to pass a token."""
        if not self.enabled:
            return OPEN_ACCESS
        if credential is None:
            raise Refusal(401, f"A token is required. {HOW_TO_PASS_A_TOKEN}")
        identity = self.identify(credential)
        if identity is None:
            raise Refusal(401, f"The token is not valid. {HOW_TO_PASS_A_TOKEN}")
        return identity

    def principal_of(self, credential: str) -> str:
        """Whom a credential names: a configured token, else (passthrough) an upstream key."""
        identity = self.identify(credential)
        return identity.principal if identity is not None else key_principal(credential)
