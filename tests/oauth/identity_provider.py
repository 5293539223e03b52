"""A real OpenID provider (npm `oidc-provider`) as a child process on loopback, signing with a key
the test holds too, so a test can both get real tokens from it and forge broken ones with its key."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.node import NODE, NODE_DIR
from tests.support.sandbox_process import free_port

SCRIPT = NODE_DIR / "oidc_provider.mjs"
KID = "test-signing-key"


@dataclass(frozen=True, slots=True)
class IdentityProvider:
    issuer: str
    private_key: rsa.RSAPrivateKey  # the key it signs with (the first of its key set)
    kid: str = KID

    def client_credentials(self, *, resource: str, scope: str) -> str:
        """A real access token from the provider (RFC 8707 `resource` becomes its `aud`)."""
        with httpx2.Client(timeout=10) as http:
            response = http.post(
                f"{self.issuer}/token",
                data={"grant_type": "client_credentials", "resource": resource, "scope": scope},
                auth=("machine", "machine-secret"),
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"].lower() == "bearer"
        return str(body["access_token"])

    def forge(self, claims: dict[str, Any], **header: Any) -> str:
        """A token signed with the issuer's own key, with the claims a test chooses."""
        now = int(time.time())
        payload = {"iss": self.issuer, "sub": "forged", "iat": now, "exp": now + 600, "scope": "agent:*", **claims}
        return jwt.encode(
            payload, self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": "at+jwt", **header}
        )


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@contextmanager
def running_identity_provider(
    folder: Path, *, port: int | None = None, keys: Sequence[tuple[str, rsa.RSAPrivateKey]] = ()
) -> Generator[IdentityProvider]:
    """oidc-provider on `port` (default: a free one) with the key set `keys` (kid, key), signing with
    the first (default: one new key)."""
    keys = keys or [(KID, new_key())]
    published = [
        {**json.loads(RSAAlgorithm.to_jwk(key)), "kid": kid, "alg": "RS256", "use": "sig"} for kid, key in keys
    ]
    key_file = folder / f"issuer-keys-{keys[0][0]}.json"
    key_file.write_text(json.dumps({"keys": published}))
    port = port or free_port()
    process = subprocess.Popen(
        [str(NODE), str(SCRIPT), str(port), str(key_file)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:  # warnings first (its in-memory adapter), then the ready line
            seen.append(line)
            if line.startswith("ready "):
                break
        assert seen and seen[-1].startswith("ready "), f"oidc-provider did not start: {''.join(seen)}"
        yield IdentityProvider(issuer=seen[-1].split(" ", 1)[1].strip(), private_key=keys[0][1], kid=keys[0][0])
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
