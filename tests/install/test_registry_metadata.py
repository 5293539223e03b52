"""`server.json` (the MCP Registry entry) is valid against the registry's schema and tells the truth about the
package: its version, the `stdio` argument, the environment mode's variables and the endpoints' URL shapes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from mcp_server import __version__
from mcp_server.bundle_manifest import USER_CONFIG
from mcp_server.config_loading import DEFAULT_CUSTOMGPT_URL, CustomGPTEnvironment
from tests.support.uv import CHECKOUT

SCHEMA = json.loads((CHECKOUT / "tests" / "install" / "registry" / "server.schema.json").read_text())
SERVER = json.loads((CHECKOUT / "server.json").read_text())


def errors(document: Any) -> list[str]:
    validator = Draft7Validator(SCHEMA, format_checker=FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_server_json_is_valid_against_the_registry_schema() -> None:
    Draft7Validator.check_schema(SCHEMA)
    assert errors(SERVER) == []
    assert SERVER["$schema"] == SCHEMA["$id"]


BREAKAGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "no name": lambda d: d.pop("name"),
    "long description": lambda d: d.update(description="x" * 101),
    "version latest": lambda d: d["packages"][0].update(version="latest"),
    "variable without name": lambda d: d["packages"][0]["environmentVariables"][0].pop("name"),
    "unknown transport": lambda d: d["remotes"][0].update(type="websocket"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_the_schema_check_catches_a_broken_entry(breakage: str) -> None:
    broken = copy.deepcopy(SERVER)
    BREAKAGES[breakage](broken)
    assert errors(broken)


def test_server_json_matches_the_package() -> None:
    (package,) = SERVER["packages"]
    assert SERVER["version"] == package["version"] == __version__
    assert package["identifier"] == "agent-bridge" and package["runtimeHint"] == "uvx"
    assert package["packageArguments"] == [{"type": "positional", "value": "stdio"}]
    variables = {v["name"]: v for v in package["environmentVariables"]}
    assert set(variables) == {f"CUSTOMGPT_{f.upper()}" for f in CustomGPTEnvironment.model_fields}
    assert variables["CUSTOMGPT_API_KEY"]["isSecret"] is True
    assert variables["CUSTOMGPT_BASE_URL"]["default"] == DEFAULT_CUSTOMGPT_URL == USER_CONFIG["base_url"]["default"]
    assert [r["url"].rsplit("/", 1)[1] for r in SERVER["remotes"]] == ["mcp", "sse"]
