"""The Host and Origin allow-lists built from the configuration (pure functions, no processes)."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from mcp_server.config import BridgeConfig, ServerConfig
from mcp_server.host_guard import HostOriginGuard, host_patterns, security_settings


@pytest.mark.parametrize(
    ("name", "patterns"),
    [
        ("bridge.example.com", ["bridge.example.com", "bridge.example.com:*"]),
        ("Agent-Bridge", ["agent-bridge", "agent-bridge:*"]),  # an n8n container's name for the bridge
        ("bridge.example.com:8443", ["bridge.example.com:8443"]),
        ("bridge.example.com:443", ["bridge.example.com:443", "bridge.example.com"]),  # Host: has no :443
        ("10.0.0.5", ["10.0.0.5", "10.0.0.5:*"]),
        ("fd00::5", ["[fd00::5]", "[fd00::5]:*"]),
        ("[fd00::5]", ["[fd00::5]", "[fd00::5]:*"]),
        ("[fd00::5]:8000", ["[fd00::5]:8000"]),
    ],
)
def test_host_patterns(name: str, patterns: list[str]) -> None:
    assert host_patterns(name) == patterns


def test_allow_lists_hold_loopback_public_names_bind_address_and_origins() -> None:
    server = ServerConfig(
        host="10.0.0.5", public_hosts=("bridge.example.com",), allowed_origins=("https://app.example.com",)
    )
    settings = security_settings(BridgeConfig(server=server))
    assert settings.enable_dns_rebinding_protection
    assert {"localhost:*", "127.0.0.1:*", "[::1]:*", "bridge.example.com:*", "10.0.0.5:*"} <= set(
        settings.allowed_hosts
    )
    assert {"http://localhost:8000", "http://127.0.0.1:8000", "https://app.example.com"} <= set(
        settings.allowed_origins
    )
    assert not any(o.endswith(":*") for o in settings.allowed_origins)  # no other local port
    wildcard = security_settings(BridgeConfig(server=ServerConfig(host="0.0.0.0")))
    assert not any(h.startswith("0.0.0.0") for h in wildcard.allowed_hosts)


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        ("127.0.0.1:8000", None, None),
        ("localhost:43769", "http://localhost:43769", None),  # same origin, whatever the port
        ("127.0.0.1:8000", "http://127.0.0.1:8000", None),
        ("127.0.0.1:8000", "https://app.example.com", None),
        ("127.0.0.1:8000", "http://localhost:3000", 403),
        ("127.0.0.1:8000", "https://evil.example", 403),
        ("evil.example", None, 421),
        ("evil.example", "http://evil.example", 421),
        ("bridge.example.com", "https://bridge.example.com", None),
        ("", None, 421),
    ],
)
def test_the_guard_in_front_of_every_route(host: str, origin: str | None, status: int | None) -> None:
    server = ServerConfig(port=8000, public_hosts=("bridge.example.com",), allowed_origins=("https://app.example.com",))
    guard = HostOriginGuard(lambda scope, receive, send: None, security_settings(BridgeConfig(server=server)))  # type: ignore[arg-type]
    headers = {"host": host} | ({"origin": origin} if origin else {})
    refusal = guard.refusal(Headers(headers))
    assert (refusal.status if refusal else None) == status
