"""`[oauth]` settings: what is refused, and the sentence that says how to fix it."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_server.config_loading import parse_config
from mcp_server.errors import ConfigError
from mcp_server.oauth.scopes import granted_agents
from mcp_server.oauth.sign_in import granted_scopes

BASE: dict[str, Any] = {
    "backends": {"customgpt": {"api_key": "k"}},
    "agents": [{"name": "support", "project_id": 1}],
    "tokens": [{"name": "alice", "sha256": "0" * 64}],
}


def _parse(server: dict[str, Any], oauth: dict[str, Any]) -> None:
    parse_config({**BASE, "server": server, "oauth": oauth}, source="test", env={})


def test_an_issuer_alone_is_a_list_of_one() -> None:
    config = parse_config(
        {**BASE, "server": {"public_url": "https://b.example"}, "oauth": {"issuer": "https://id.example/realms/a"}},
        source="test",
        env={},
    )
    assert config.oauth.issuer == ("https://id.example/realms/a",)
    assert config.oauth.enabled


@pytest.mark.parametrize(
    ("server", "oauth", "says"),
    [
        ({}, {"built_in": True}, "server.public_url: required with [oauth]"),
        ({"public_url": "https://b.example"}, {"issuer": "http://id.example"}, "must use https"),
        ({"public_url": "https://b.example"}, {"issuer": "id.example"}, "not an issuer URL"),
        ({"public_url": "https://b.example"}, {"issuer": ["https://id.example"], "leeway_seconds": -1}, "leeway"),
        (
            {"public_url": "https://b.example"},
            {"issuer": "https://id.example", "introspection_url": "https://id.example/introspect"},
            "introspection needs the bridge's client id",
        ),
        (
            {"public_url": "https://b.example"},
            {"introspection_url": "https://id.example/i", "introspection_client_id": "b"},
            "list the issuer whose opaque tokens",
        ),
    ],
)
def test_bad_oauth_settings_are_refused_with_the_fix(server: dict[str, Any], oauth: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _parse(server, oauth)
    assert says in str(raised.value)


def test_built_in_needs_a_token_to_sign_in_with() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(
            {**BASE, "tokens": [], "server": {"public_url": "https://b.example"}, "oauth": {"built_in": True}},
            source="test",
            env={},
        )
    assert "agent-bridge token new" in str(raised.value)


def test_loopback_http_issuers_are_allowed_for_tests() -> None:
    _parse({"public_url": "http://127.0.0.1:9"}, {"issuer": ["http://127.0.0.1:8080", "http://localhost/realms/x"]})


def test_scopes_to_agents() -> None:
    assert granted_agents({"agent:support", "openid", "agent:*"}) == ("*", "support")
    assert granted_agents({"openid"}) == ()


@pytest.mark.parametrize(
    ("requested", "token_agents", "granted"),
    [
        (None, None, ["agent:*"]),
        (["agent:*"], frozenset({"hr"}), ["agent:hr"]),
        (["agent:support", "agent:hr"], frozenset({"hr"}), ["agent:hr"]),
        (["agent:support"], frozenset({"hr"}), []),
        (["openid"], frozenset({"hr", "support"}), ["agent:hr", "agent:support"]),
    ],
)
def test_the_built_in_server_grants_at_most_the_pasted_tokens_agents(
    requested: list[str] | None, token_agents: frozenset[str] | None, granted: list[str]
) -> None:
    assert granted_scopes(requested, token_agents) == granted


def test_claim_agents_must_name_known_agents_and_a_claim() -> None:
    server = {"public_url": "https://b.example"}
    with pytest.raises(ConfigError) as unknown:
        _parse(server, {"issuer": "https://id.example", "agents_claim": "groups", "claim_agents": {"g": ["nope"]}})
    assert "unknown agent 'nope'" in str(unknown.value)
    with pytest.raises(ConfigError) as unnamed:
        _parse(server, {"issuer": "https://id.example", "claim_agents": {"g": ["support"]}})
    assert 'agents_claim = "groups"' in str(unnamed.value)


def test_the_public_url_is_an_allowed_host_and_origin() -> None:
    """OAuth clients and the sign-in page reach the bridge by its public name (behind a proxy)."""
    from mcp_server.host_guard import security_settings

    config = parse_config({**BASE, "server": {"public_url": "https://bridge.example.com/base"}}, source="t", env={})
    settings = security_settings(config)
    assert "bridge.example.com" in settings.allowed_hosts
    assert "https://bridge.example.com" in settings.allowed_origins
    assert "https://evil.example" not in settings.allowed_origins
