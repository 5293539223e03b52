"""The Host and Origin allow-lists built from the configuration (pure functions, no processes)."""

from __future__ import annotations

import pytest

from mcp_server.app import host_patterns, security_settings
from mcp_server.config import BridgeConfig, ServerConfig


@pytest.mark.parametrize(
    ("name", "patterns"),
    [
        ("bridge.example.com", ["bridge.example.com", "bridge.example.com:*"]),
        ("Agent-Bridge", ["agent-bridge", "agent-bridge:*"]),  # an n8n container's name for the bridge
        ("bridge.example.com:8443", ["bridge.example.com:8443"]),
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
    assert {"http://localhost:*", "https://app.example.com"} <= set(settings.allowed_origins)
    wildcard = security_settings(BridgeConfig(server=ServerConfig(host="0.0.0.0")))
    assert not any(h.startswith("0.0.0.0") for h in wildcard.allowed_hosts)
