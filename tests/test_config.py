"""Configuration: file + environment, interpolation, and error messages that name the key and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mcp_server.config import agent_tools
from mcp_server.config_loading import from_environment, load, load_file, parse_config
from mcp_server.errors import ConfigError

GOOD = """
[server]
host = "127.0.0.1"

[backends.customgpt]
api_key = "${TEST_CUSTOMGPT_KEY}"
base_url = "http://127.0.0.1:8100/"

[[agents]]
name = "support"
project_id = 1
description = "Northwind support articles"

[[tokens]]
name = "laptop"
sha256 = "%s"
agents = ["support"]
""" % ("a" * 64)


def test_file_with_env_interpolation(tmp_path: Path) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(GOOD)
    config = load_file(path, env={"TEST_CUSTOMGPT_KEY": "secret-value"})
    assert config.backends["customgpt"].api_key.get_secret_value() == "secret-value"
    assert config.backends["customgpt"].base_url == "http://127.0.0.1:8100"
    assert config.agents[0].name == "support"
    assert agent_tools(config.agents[0], "customgpt") == ("ask", "search_citations", "list_sources")
    assert config.tokens[0].agents == ("support",)
    # The secret never shows in a repr.
    assert "secret-value" not in repr(config)


def test_missing_env_variable_names_key_path(tmp_path: Path) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(GOOD)
    with pytest.raises(ConfigError, match=r"backends\.customgpt\.api_key: environment variable TEST_CUSTOMGPT_KEY"):
        load_file(path, env={})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"agents": [{"name": "x", "project_id": 1}]}, r"agents\[0\]\.backend: no backend named 'customgpt'"),
        (
            {"backends": {"customgpt": {"api_key": "k"}}, "agents": [{"name": "Bad Name", "project_id": 1}]},
            r"agents\[0\]\.name: String should match pattern",
        ),
        (
            {"backends": {"customgpt": {"api_key": "k"}}, "agents": [{"name": "a", "project_id": "x"}]},
            r"agents\[0\]\.project_id: Input should be a valid integer",
        ),
        (
            {"backends": {"customgpt": {"api_key": "k", "base_url": "ftp://x"}}},
            r"backends\.customgpt\.base_url: must start with http:// or https://",
        ),
        ({"servr": {}}, r"servr: unknown key"),
        (
            {
                "backends": {"customgpt": {"api_key": "k"}},
                "agents": [{"name": "a", "project_id": 1}, {"name": "a", "project_id": 2}],
            },
            r"'a' is used twice",
        ),
        (
            {"tokens": [{"name": "t", "sha256": "b" * 64, "agents": ["nope"]}]},
            r"tokens\[0\]\.agents: unknown agent 'nope'",
        ),
    ],
)
def test_validation_messages(data: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_config(data, source="test.toml", env={})


def test_environment_mode() -> None:
    config = from_environment(
        {"CUSTOMGPT_API_KEY": "k", "CUSTOMGPT_PROJECT_IDS": "12, 34", "CUSTOMGPT_BASE_URL": "http://127.0.0.1:1"}
    )
    assert [a.project_id for a in config.agents] == [12, 34]
    assert config.discover_agent_names
    assert config.backends["customgpt"].base_url == "http://127.0.0.1:1"


def test_environment_mode_rejects_bad_ids() -> None:
    with pytest.raises(ConfigError, match="CUSTOMGPT_PROJECT_IDS: 'abc' is not a project id"):
        from_environment({"CUSTOMGPT_API_KEY": "k", "CUSTOMGPT_PROJECT_IDS": "1,abc"})


def test_nothing_configured_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="pass --config FILE"):
        load(None, env={})


def test_check_config_command(tmp_path: Path) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(GOOD)
    env = {"TEST_CUSTOMGPT_KEY": "super-secret-key", "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(
        [sys.executable, "-m", "mcp_server", "check-config", "--offline", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "agent support: customgpt project 1" in ok.stdout
    assert "super-secret-key" not in ok.stdout + ok.stderr

    path.write_text(GOOD.replace("project_id = 1", 'project_id = "one"'))
    bad = subprocess.run(
        [sys.executable, "-m", "mcp_server", "check-config", "--offline", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 2
    assert "agents[0].project_id" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_shipped_example_config_is_valid() -> None:
    example = Path(__file__).parent.parent / "configs" / "agent-bridge.toml"
    config = load_file(example, env={"CUSTOMGPT_API_KEY": "k"})
    assert config.agents
