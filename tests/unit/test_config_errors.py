"""Every mistake a user can make in a settings file ends in a `ConfigError` that names the key path and
a hint at the fix (tests/test_config.py covers the first few; these are the rest).

Assertions are on the stable parts of the messages, the key path and a keyword of the fix, not on
whole sentences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_server.config_loading import load_file, parse_config
from mcp_server.errors import ConfigError

CUSTOMGPT = {"customgpt": {"api_key": "k"}}
TOKEN_HASH = "a" * 64


def _message(data: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source="bridge.toml", env=env or {})
    return str(caught.value)


def _assert_names(message: str, *fragments: str) -> None:
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# -- unknown keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"server": {"prot": 8000}}, "server.prot"),
        ({"backends": {"customgpt": {"api_key": "k", "apikey": "x"}}}, "backends.customgpt.apikey"),
        ({"backends": CUSTOMGPT, "agents": [{"name": "a", "project_id": 1, "projectid": 2}]}, "agents[0].projectid"),
        ({"tokens": [{"name": "t", "sha256": TOKEN_HASH, "agent": ["x"]}]}, "tokens[0].agent"),
    ],
)
def test_an_unknown_key_is_named_with_its_path(data: dict[str, Any], path: str) -> None:
    message = _message(data)
    _assert_names(message, "bridge.toml", f"{path}: unknown key", "spelling")


def test_every_mistake_in_a_file_is_reported_at_once() -> None:
    message = _message({"server": {"port": -1, "hots": "x"}})
    _assert_names(message, "server.port", "server.hots: unknown key")


# -- agents ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("project_id", "keyword"),
    [(1.5, "integer"), (0, "greater than 0"), (-3, "greater than 0"), ([1], "integer"), ("twelve", "integer")],
)
def test_a_project_id_that_is_not_a_positive_integer(project_id: object, keyword: str) -> None:
    message = _message({"backends": CUSTOMGPT, "agents": [{"name": "a", "project_id": project_id}]})
    _assert_names(message, "agents[0].project_id", keyword)


def test_a_customgpt_agent_needs_a_project_id() -> None:
    message = _message({"backends": CUSTOMGPT, "agents": [{"name": "ok", "project_id": 1}, {"name": "a"}]})
    _assert_names(message, "agents[1].project_id", "required", "customgpt")


@pytest.mark.parametrize("model", [None, ""])
def test_an_openai_agent_needs_a_model(model: str | None) -> None:
    agent: dict[str, Any] = {"name": "a", "backend": "llm"}
    if model is not None:
        agent["model"] = model
    message = _message({"backends": {"llm": {"kind": "openai", "api_key": "k"}}, "agents": [agent]})
    _assert_names(message, "agents[0].model", "required", "openai")


def test_a_codegpt_agent_needs_an_agent_id() -> None:
    message = _message(
        {"backends": {"cg": {"kind": "codegpt", "api_key": "k"}}, "agents": [{"name": "a", "backend": "cg"}]}
    )
    _assert_names(message, "agents[0].agent_id", "required", "codegpt")


def test_an_agent_on_an_undefined_backend_lists_the_defined_ones_and_the_table_to_add() -> None:
    message = _message(
        {"backends": {"main": {"api_key": "k"}}, "agents": [{"name": "a", "project_id": 1, "backend": "mian"}]}
    )
    _assert_names(message, "agents[0].backend", "'mian'", "main", "[backends.mian]")


def test_a_tool_the_backend_does_not_have() -> None:
    message = _message(
        {
            "backends": {"llm": {"kind": "openai", "api_key": "k"}},
            "agents": [{"name": "a", "backend": "llm", "model": "m", "tools": ["ask", "list_sources"]}],
        }
    )
    _assert_names(message, "agents[0].tools", "list_sources", "openai", "ask")


def test_an_unknown_tool_name_lists_the_tools() -> None:
    message = _message({"backends": CUSTOMGPT, "agents": [{"name": "a", "project_id": 1, "tools": ["asks"]}]})
    _assert_names(message, "agents[0].tools", "asks", "search_citations", "list_sources")


def test_duplicate_agent_names_name_the_second_one() -> None:
    message = _message(
        {
            "backends": CUSTOMGPT,
            "agents": [{"name": "a", "project_id": 1}, {"name": "b", "project_id": 2}, {"name": "a", "project_id": 3}],
        }
    )
    _assert_names(message, "agents[2].name", "'a'", "unique")


def test_agents_written_as_one_table_instead_of_an_array() -> None:
    message = _message({"backends": CUSTOMGPT, "agents": {"name": "a", "project_id": 1}})
    _assert_names(message, "agents:")


# -- backends ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", ["app.customgpt.ai", "//app.customgpt.ai", "localhost:8100"])
def test_a_base_url_without_a_scheme(base_url: str) -> None:
    message = _message({"backends": {"main": {"api_key": "k", "base_url": base_url}}})
    _assert_names(message, "backends.main.base_url", "http://", "https://")


def test_an_unknown_backend_kind_lists_the_kinds() -> None:
    message = _message({"backends": {"main": {"kind": "anthropic", "api_key": "k"}}})
    _assert_names(message, "backends.main", "customgpt", "openai", "codegpt")


def test_a_backend_without_an_api_key() -> None:
    message = _message({"backends": {"main": {"kind": "openai"}}})
    _assert_names(message, "backends.main", "api_key", "required")


@pytest.mark.parametrize(
    ("key", "value"), [("timeout_seconds", 0), ("connect_timeout_seconds", -1), ("max_connections", 0)]
)
def test_backend_limits_must_be_positive(key: str, value: int) -> None:
    message = _message({"backends": {"main": {"api_key": "k", key: value}}})
    _assert_names(message, f"backends.main.{key}", "greater than")


def test_an_error_never_echoes_the_values_it_refuses() -> None:
    message = _message(
        {"backends": {"main": {"api_key": 1234567890, "base_url": "sk-live-abcdef123456"}}, "tokens": "sk-zzz9999"}
    )
    _assert_names(message, "backends.main.api_key", "backends.main.base_url", "tokens")
    assert "1234567890" not in message
    assert "sk-live-abcdef123456" not in message
    assert "sk-zzz9999" not in message


# -- server ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("port", "keyword"), [(70000, "65535"), ("http", "integer"), (-1, "0")])
def test_a_port_out_of_range(port: object, keyword: str) -> None:
    _assert_names(_message({"server": {"port": port}}), "server.port", keyword)


# -- tokens ------------------------------------------------------------------------------------------


def test_duplicate_token_names() -> None:
    message = _message({"tokens": [{"name": "laptop", "sha256": "a" * 64}, {"name": "laptop", "sha256": "b" * 64}]})
    _assert_names(message, "tokens[", "].name", "'laptop'", "unique")


@pytest.mark.parametrize("digest", ["abc", "A" * 64, "g" * 64, "a" * 65, "a" * 63 + " "])
def test_a_sha256_that_is_not_64_lowercase_hex_digits(digest: str) -> None:
    message = _message({"tokens": [{"name": "t", "sha256": digest}]})
    _assert_names(message, "tokens[0].sha256", "64")


def test_a_token_naming_an_unknown_agent_among_known_ones() -> None:
    message = _message(
        {
            "backends": CUSTOMGPT,
            "agents": [{"name": "support", "project_id": 1}],
            "tokens": [{"name": "t", "sha256": TOKEN_HASH, "agents": ["support", "suport"]}],
        }
    )
    _assert_names(message, "tokens[0].agents", "unknown agent 'suport'")
    assert "unknown agent 'support'" not in message


def test_an_unknown_token_scope_lists_the_scopes() -> None:
    message = _message({"tokens": [{"name": "t", "sha256": TOKEN_HASH, "scopes": ["admin"]}]})
    _assert_names(message, "tokens[0].scopes[0]", "agent_config")


def test_a_token_without_a_name() -> None:
    _assert_names(_message({"tokens": [{"name": "", "sha256": TOKEN_HASH}]}), "tokens[0].name")


# -- ${ENV} references -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"agents": [{"name": "a", "system_prompt": "You are ${PERSONA}."}]}, "agents[0].system_prompt"),
        ({"tokens": [{"name": "t", "sha256": "${LAPTOP_TOKEN_SHA}"}]}, "tokens[0].sha256"),
        ({"server": {"public_hosts": ["ok.example", "${PUBLIC_HOST}"]}}, "server.public_hosts[1]"),
        (
            {"backends": {"llm": {"kind": "openai", "api_key": "k", "base_url": "${LLM_URL}/v1"}}},
            "backends.llm.base_url",
        ),
    ],
)
def test_an_unset_environment_variable_names_the_key_and_the_variable(data: dict[str, Any], path: str) -> None:
    message = _message(data, env={"UNRELATED": "x"})
    variable = next(part for part in ("PERSONA", "LAPTOP_TOKEN_SHA", "PUBLIC_HOST", "LLM_URL") if part in str(data))
    _assert_names(message, path, variable, "not set", "export")


def test_environment_references_are_resolved_everywhere_a_string_may_be() -> None:
    config = parse_config(
        {
            "server": {"public_hosts": ["${HOST}"]},
            "backends": {"llm": {"kind": "openai", "api_key": "${KEY}", "base_url": "${URL}/v1"}},
            "agents": [
                {"name": "a", "backend": "llm", "model": "${MODEL}", "system_prompt": "Be ${TONE} and ${TONE}."}
            ],
        },
        source="bridge.toml",
        env={"HOST": "bridge.example", "KEY": "sk-1", "URL": "http://127.0.0.1:9", "MODEL": "gpt-4o", "TONE": "brief"},
    )
    assert config.server.public_hosts == ("bridge.example",)
    assert config.backends["llm"].api_key.get_secret_value() == "sk-1"
    assert config.backends["llm"].base_url == "http://127.0.0.1:9/v1"
    assert config.agents[0].model == "gpt-4o"
    assert config.agents[0].system_prompt == "Be brief and brief."


def test_an_environment_value_is_validated_like_a_written_one() -> None:
    message = _message({"backends": {"main": {"api_key": "k", "base_url": "${URL}"}}}, env={"URL": "app.customgpt.ai"})
    _assert_names(message, "backends.main.base_url", "http://")


# -- files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[server\nport = 8000\n",
        "[server]\nport = \n",
        '[backends.customgpt]\napi_key = "a"\napi_key = "b"\n',
        "[[agents]]\nname = 'a'\nproject_id = 1\n[agents]\n",
    ],
)
def test_a_file_that_is_not_toml_names_the_file_and_the_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_file(path, env={})
    message = str(caught.value)
    _assert_names(message, str(path), "not valid TOML", "line")


def test_a_validation_failure_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text('[backends.customgpt]\napi_key = "k"\n\n[[agents]]\nname = "support"\nproject_id = "one"\n')
    with pytest.raises(ConfigError) as caught:
        load_file(path, env={})
    _assert_names(str(caught.value), str(path), "agents[0].project_id")


def test_a_missing_file_says_to_pass_an_existing_one(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_file(path, env={})
    _assert_names(str(caught.value), str(path), "not found", "--config")


# -- files a person saves in odd ways -------------------------------------------------------------------


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbf[backends.customgpt]\napi_key = "k"\n')
    assert load_file(path, env={}).backends["customgpt"].kind == "customgpt"


def test_unreadable_files_are_a_config_error_not_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'[server]\nhost = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="is a folder"):
        load_file(folder, env={})
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_file(latin1, env={})


def test_true_is_not_project_one() -> None:
    message = _message(
        {"backends": CUSTOMGPT, "agents": [{"name": "a", "project_id": True}]},
    )
    _assert_names(message, "agents[0].project_id")


def test_an_empty_api_key_is_refused_at_once() -> None:
    _assert_names(_message({"backends": {"customgpt": {"api_key": ""}}}), "backends.customgpt.api_key")


def test_cross_field_checks_name_their_key_path_first() -> None:
    message = _message({"backends": CUSTOMGPT, "agents": [{"name": "a"}]})
    assert message.startswith("bridge.toml: agents[0].project_id: required"), message


def test_a_field_another_kind_uses_is_refused_not_ignored() -> None:
    message = _message({"backends": CUSTOMGPT, "agents": [{"name": "a", "project_id": 1, "model": "gpt-4o"}]})
    _assert_names(message, "agents[0].model: not used by a customgpt backend", "project_id")
