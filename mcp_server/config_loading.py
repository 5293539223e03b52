"""Reading the settings: a TOML file plus environment variables, validated into one `BridgeConfig`.

Two ways in:

* a file (`--config FILE` or `AGENT_BRIDGE_CONFIG`), whose string values may say `${ENV_NAME}` so
  secrets stay in the environment;
* the zero-config environment mode for the common case: `CUSTOMGPT_API_KEY` and
  `CUSTOMGPT_PROJECT_IDS=123,456` (optionally `CUSTOMGPT_BASE_URL`); agent names and descriptions
  then come from the upstream projects at start-up.

Either way `AGENT_BRIDGE_STORE_URL` and `AGENT_BRIDGE_NODE_ID` then apply. Every validation failure
becomes a `ConfigError` whose message names the key path and the fix. The models themselves are in
`mcp_server.config`.
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcp_server.backends import KINDS
from mcp_server.config import BridgeConfig
from mcp_server.errors import ConfigError

DEFAULT_CUSTOMGPT_URL = "https://app.customgpt.ai"
STORE_URL_ENV = "AGENT_BRIDGE_STORE_URL"
NODE_ID_ENV = "AGENT_BRIDGE_NODE_ID"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class CustomGPTEnvironment(BaseSettings):
    """The zero-config environment mode."""

    model_config = SettingsConfigDict(env_prefix="CUSTOMGPT_", extra="ignore")

    api_key: SecretStr | None = None
    project_ids: str | None = None
    base_url: str = DEFAULT_CUSTOMGPT_URL


def _interpolate(value: Any, path: str, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"{path}: environment variable {name} is not set; export it or write the value")
            return env[name]

        return _ENV_REF.sub(substitute, value)
    if isinstance(value, dict):
        table = cast(dict[str, Any], value)
        return {k: _interpolate(v, f"{path}.{k}" if path else k, env) for k, v in table.items()}
    if isinstance(value, list):
        items = cast(list[Any], value)
        return [_interpolate(v, f"{path}[{i}]", env) for i, v in enumerate(items)]
    return value


def _location(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _validation_message(exc: ValidationError, source: str) -> str:
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if len(loc) > 2 and loc[0] == "backends" and loc[2] in KINDS:  # the union's tag, not a key
            loc = loc[:2] + loc[3:]
        where = _location(loc)
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not loc and ": " in msg:  # a cross-field check names its own key path
            where, msg = msg.split(": ", 1)
        if err["type"] == "extra_forbidden":
            msg = "unknown key; check its spelling against configs/agent-bridge.toml"
        if err["type"] == "union_tag_invalid":
            where, msg = f"{where}.kind", f"not a backend kind; use one of {', '.join(KINDS)}"
        lines.append(f"{where}: {msg}")
    return f"{source}: " + "; ".join(lines)


def parse_config(data: Mapping[str, Any], *, source: str, env: Mapping[str, str] | None = None) -> BridgeConfig:
    resolved = _interpolate(dict(data), "", os.environ if env is None else env)
    try:
        return BridgeConfig.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(_validation_message(exc, source)) from None


def load_file(path: Path, env: Mapping[str, str] | None = None) -> BridgeConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # -sig: a byte-order mark is fine
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; pass an existing file to --config") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; pass the settings file itself to --config") from None
    except PermissionError:
        raise ConfigError(f"{path}: not readable by this user; check the file's permissions") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, source=str(path), env=env)


def from_environment(env: Mapping[str, str] | None = None) -> BridgeConfig:
    environ = dict(os.environ if env is None else env)
    try:
        settings = CustomGPTEnvironment.model_validate(
            {k.removeprefix("CUSTOMGPT_").lower(): v for k, v in environ.items() if k.startswith("CUSTOMGPT_")}
        )
    except ValidationError as exc:
        raise ConfigError(_validation_message(exc, "environment")) from None
    if settings.api_key is None or not settings.project_ids:
        raise ConfigError(
            "no configuration: pass --config FILE (see configs/agent-bridge.toml), or set CUSTOMGPT_API_KEY "
            "and CUSTOMGPT_PROJECT_IDS (e.g. CUSTOMGPT_PROJECT_IDS=123,456)"
        )
    ids: list[int] = []
    for raw in settings.project_ids.split(","):
        raw = raw.strip()
        if not raw:
            continue
        if not raw.isdigit() or int(raw) <= 0:
            raise ConfigError(f"CUSTOMGPT_PROJECT_IDS: '{raw}' is not a project id; use positive integers like 123,456")
        ids.append(int(raw))
    data: dict[str, Any] = {
        "backends": {"customgpt": {"api_key": settings.api_key.get_secret_value(), "base_url": settings.base_url}},
        "agents": [{"name": f"project-{pid}", "project_id": pid} for pid in ids],
        "discover_agent_names": True,
    }
    return parse_config(data, source="environment", env={})


def load(path: Path | None, env: Mapping[str, str] | None = None) -> BridgeConfig:
    """The file when given (or named by AGENT_BRIDGE_CONFIG), else the environment mode; then
    AGENT_BRIDGE_STORE_URL and AGENT_BRIDGE_NODE_ID over `[store] url` and `server.node_id`."""
    environ = os.environ if env is None else env
    if path is None and environ.get("AGENT_BRIDGE_CONFIG"):
        path = Path(environ["AGENT_BRIDGE_CONFIG"])
    config = load_file(path, env) if path is not None else from_environment(env)
    return with_replica_environment(config, environ)


def with_replica_environment(config: BridgeConfig, env: Mapping[str, str]) -> BridgeConfig:
    """`config` with the store URL and node id the environment names (a container's usual way in)."""
    store_url, node_id = env.get(STORE_URL_ENV), env.get(NODE_ID_ENV)
    if not store_url and not node_id:
        return config
    data = config.model_dump()
    if store_url:
        data["store"] = {"url": store_url}
    if node_id:
        data["server"] = {**data["server"], "node_id": node_id}
    try:
        return BridgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(exc, f"environment ({STORE_URL_ENV}/{NODE_ID_ENV})")) from None


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML settings file (default: $AGENT_BRIDGE_CONFIG, else the CUSTOMGPT_* environment mode)",
    )
