"""The per-kind examples in configs/ are valid configurations, and say what the README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.config import agent_tools
from mcp_server.config_loading import load_file, parse_config
from mcp_server.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ENV = {"CUSTOMGPT_API_KEY": "k1", "GPT_PROXY_API_KEY": "k2", "CODEGPT_API_KEY": "k3", "CODEGPT_ORG_ID": "org"}


@pytest.mark.parametrize(
    ("name", "kind", "tools"),
    [
        ("kind-customgpt.toml", "customgpt", ("ask", "search_citations", "list_sources")),
        ("kind-openai.toml", "openai", ("ask",)),
        ("kind-codegpt.toml", "codegpt", ("ask", "list_sources")),
    ],
)
def test_each_kind_has_a_valid_example(name: str, kind: str, tools: tuple[str, ...]) -> None:
    config = load_file(CONFIGS / name, env=ENV)
    assert {b.kind for b in config.backends.values()} == {kind}
    assert all(agent_tools(a, kind) == tools for a in config.agents)


def test_the_custom_gpt_example_derives_its_model_and_title() -> None:
    research = next(a for a in load_file(CONFIGS / "kind-openai.toml", env=ENV).agents if a.name == "research")
    assert research.upstream_model() == "gpt-4-gizmo-g-bo0FiWLY7"
    assert research.default_title() == "Researchgpt"


def test_a_codegpt_agent_id_must_be_one_path_segment() -> None:
    data = {
        "backends": {"c": {"kind": "codegpt", "api_key": "k"}},
        "agents": [{"name": "a", "backend": "c", "agent_id": "../projects/1"}],
    }
    with pytest.raises(ConfigError, match=r"agents\[0\]\.agent_id: String should match pattern"):
        parse_config(data, source="t.toml", env={})
