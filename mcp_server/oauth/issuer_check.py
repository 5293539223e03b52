"""`check-config`'s look at each `[oauth] issuer`: its metadata can be read, and it offers PKCE S256
(MCP clients from 2026 refuse an authorization server whose metadata lacks
`code_challenge_methods_supported`)."""

from __future__ import annotations

from collections.abc import Iterable

from mcp_server.oauth.issuer_keys import IssuerUnavailable, issuer_metadata, new_http_client


async def issuer_warnings(issuers: Iterable[str]) -> list[str]:
    warnings: list[str] = []
    async with new_http_client() as http:
        for issuer in issuers:
            try:
                metadata = await issuer_metadata(http, issuer)
            except IssuerUnavailable as exc:
                warnings.append(f"issuer {issuer}: its metadata cannot be read ({exc})")
                continue
            methods = metadata.get("code_challenge_methods_supported")
            if not isinstance(methods, list) or "S256" not in methods:
                warnings.append(
                    f"issuer {issuer}: its metadata lacks code_challenge_methods_supported with S256; "
                    "MCP clients (Claude, ChatGPT) refuse such a server: turn on PKCE S256 at the identity provider"
                )
            if "jwks_uri" not in metadata:
                warnings.append(f"issuer {issuer}: its metadata has no jwks_uri; the bridge cannot check its tokens")
    return warnings
