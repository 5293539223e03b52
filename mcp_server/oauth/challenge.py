"""What an OAuth client reads from a refusal: the `WWW-Authenticate: Bearer` challenge (RFC 6750 §3,
RFC 9728 §5.1) pointing at the protected-resource metadata, with the scope that would do."""

from __future__ import annotations

from typing import Literal

from mcp_server.errors import Refusal

ChallengeError = Literal["invalid_token", "insufficient_scope"]


class OAuthRefusal(Refusal):
    """A refusal an OAuth client can act on: sign in (401) or ask for more scope (403)."""

    def __init__(self, status: int, message: str, *, error: ChallengeError, scope: str | None = None) -> None:
        super().__init__(status, message)
        self.error: ChallengeError = error
        self.scope = scope


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bearer_challenge(error: ChallengeError, resource_metadata: str, scope: str | None, description: str) -> str:
    parts = [f"error={_quoted(error)}", f"error_description={_quoted(description)}"]
    parts.append(f"resource_metadata={_quoted(resource_metadata)}")
    if scope:
        parts.append(f"scope={_quoted(scope)}")
    return "Bearer " + ", ".join(parts)
