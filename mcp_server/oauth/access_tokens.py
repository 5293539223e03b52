"""JWT access tokens: checked against the issuers the bridge trusts, and read into who and what.

A token is accepted only when its header names an asymmetric algorithm (never `none`, never an HMAC
one: a public key must not double as a shared secret), its `iss` is a trusted issuer, its signature
verifies with that issuer's key, its `aud` names the bridge, and `exp`/`nbf` hold within the leeway.
Why a token is refused is said in words that never repeat the token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import jwt
from jwt import PyJWK

from mcp_server.errors import BridgeError

ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
ACCEPTED_TYPES: Final = frozenset({"at+jwt", "application/at+jwt", "jwt"})


class TokenRejected(BridgeError):
    """An access token that does not hold; the message says why, never what the token is."""


class KeySource(Protocol):
    """An issuer's public signing keys by key id."""

    async def key(self, kid: str | None) -> PyJWK | None: ...


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    issuer: str
    subject: str  # `sub`, else the client's id (client_credentials tokens may have no `sub`)
    client_id: str | None
    scopes: frozenset[str]
    claims: Mapping[str, Any]

    @property
    def principal(self) -> str:
        """A one-way name for (issuer, subject): sessions and conversations belong to it."""
        digest = hashlib.sha256(f"{self.issuer}\0{self.subject}".encode()).hexdigest()[:32]
        return f"oauth:{digest}"


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def token_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """`scope` (RFC 9068: space-separated) or `scp` (Entra ID and others: a list or a string)."""
    found: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(str(v) for v in value)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return frozenset(found)


class AccessTokenVerifier:
    def __init__(self, issuers: Mapping[str, KeySource], audiences: Iterable[str], leeway_seconds: float) -> None:
        self._issuers = dict(issuers)
        self._audiences = list(dict.fromkeys(audiences))
        self._leeway = leeway_seconds

    async def verify(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenRejected("the access token is not a readable JWT") from None
        alg = header.get("alg")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise TokenRejected(f"the access token's algorithm {alg!r} is not accepted (asymmetric signatures only)")
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in ACCEPTED_TYPES:
            raise TokenRejected(f"a JWT of type {typ!r} is not an access token")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self._issuers:
            raise TokenRejected("the access token's issuer is not one this bridge trusts")
        kid = header.get("kid")
        key = await self._issuers[issuer].key(kid if isinstance(kid, str) else None)
        if key is None:
            raise TokenRejected("the access token is signed with a key its issuer does not publish")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audiences,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the access token has expired; sign in again") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("the access token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("the access token was not issued for this bridge (its aud)") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("the access token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the access token does not hold ({type(exc).__name__})") from None
        client_id = claims.get("client_id") or claims.get("azp")
        subject = claims.get("sub") or client_id
        if not isinstance(subject, str) or not subject:
            raise TokenRejected("the access token names no subject (sub) and no client (client_id)")
        return VerifiedToken(
            issuer=issuer,
            subject=subject,
            client_id=client_id if isinstance(client_id, str) else None,
            scopes=token_scopes(claims),
            claims=claims,
        )
