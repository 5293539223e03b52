"""Where an Actions call carries its token: `Authorization: Bearer T`, `Authorization: Basic` with the
token as the password (the user name is ignored), or `X-API-Key: T`. Never the query string: a URL
that ChatGPT or a proxy logs must not hold a credential."""

from __future__ import annotations

import base64
import binascii
from typing import Final

from starlette.requests import Request

from mcp_server.errors import Refusal

HOW_TO_PASS_A_TOKEN: Final = (
    "Send it as 'Authorization: Bearer <token>', as Basic auth with the token as the password, or as "
    "'X-API-Key: <token>'; an operator creates one with 'agent-bridge token new'."
)


def _basic_password(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Refusal(
            401, f"The Basic credentials are not valid base64 of 'user:token'. {HOW_TO_PASS_A_TOKEN}"
        ) from None
    _, colon, password = decoded.partition(":")
    return password.strip() or None if colon else None


def presented_token(request: Request) -> str | None:
    """The token the request presents in a header, or None; a token only in `?token=` is refused."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        return _basic_password(value)
    api_key = request.headers.get("x-api-key", "").strip()
    if api_key:
        return api_key
    if "token" in request.query_params:
        raise Refusal(401, f"The /actions endpoints do not read a token from the query string. {HOW_TO_PASS_A_TOKEN}")
    return None
