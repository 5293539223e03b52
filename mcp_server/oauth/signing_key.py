"""The built-in authorization server's signing key: one ES256 key, created by the first replica that
needs it and kept in the grant store so every replica signs and verifies alike."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm

from mcp_server.store import OAuthGrantStore

ALGORITHM: Final = "ES256"
_STORE_KEY: Final = "current"


def _new_private_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class SigningKey:
    """Signs the built-in server's access tokens; as a `KeySource`, hands the verifier its public half."""

    def __init__(self, store: OAuthGrantStore) -> None:
        self._store = store
        self._loaded: tuple[str, ec.EllipticCurvePrivateKey, PyJWK] | None = None

    async def _load(self) -> tuple[str, ec.EllipticCurvePrivateKey, PyJWK]:
        if self._loaded is None:
            pem = await self._store.first("signing-key", _STORE_KEY, _new_private_pem())
            private = serialization.load_pem_private_key(pem.encode(), password=None)
            assert isinstance(private, ec.EllipticCurvePrivateKey)
            public_jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private.public_key()))
            kid = hashlib.sha256(json.dumps(public_jwk, sort_keys=True).encode()).hexdigest()[:16]
            public = PyJWK.from_dict({**public_jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"})
            self._loaded = (kid, private, public)
        return self._loaded

    async def key(self, kid: str | None) -> PyJWK | None:
        current_kid, _, public = await self._load()
        return public if kid == current_kid else None

    async def sign(self, claims: dict[str, Any]) -> str:
        kid, private, _ = await self._load()
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid, "typ": "at+jwt"})
