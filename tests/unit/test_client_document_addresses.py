"""The built-in authorization server fetches a client ID metadata document only from a public address:
a client id is chosen by whoever calls /authorize, so it must not make the bridge read its own network."""

from __future__ import annotations

import pytest

from mcp_server.oauth.authorization_server import resolves_to_public_addresses

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/client.json",
        "https://localhost:8443/client.json",
        "https://[::1]/client.json",
        "https://10.1.2.3/client.json",
        "https://192.168.0.10/client.json",
        "https://169.254.169.254/latest/meta-data",  # the cloud metadata service
        "https://[fd00::1]/client.json",
        "https:///no-host",
    ],
)
async def test_private_loopback_and_link_local_hosts_are_refused(url: str) -> None:
    assert not await resolves_to_public_addresses(url)


@pytest.mark.parametrize("url", ["https://93.184.215.14/client.json", "https://[2606:4700::6810:84e5]/c.json"])
async def test_public_addresses_are_allowed(url: str) -> None:
    assert await resolves_to_public_addresses(url)
