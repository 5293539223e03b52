"""What a client snippet connects to, and the snippet itself: a served bridge (`Served`: its Streamable
HTTP and HTTP+SSE URLs and how the client presents a token) or `agent-bridge stdio` that the client
spawns itself (`Local`: the command, its arguments and environment), built from what the user gives
`agent-bridge connect` and the current backend settings.

A `Secret` is a value given on the command line (printed, the user asked for it) or the name of the
environment variable that holds it; the variable is referenced in a snippet, never read.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit, urlunsplit

from mcp_server.config_loading import DEFAULT_CUSTOMGPT_URL
from mcp_server.errors import ConfigError

Format = Literal["json", "toml", "yaml", "shell", "text", "python"]
Transport = Literal["http", "sse"]

PACKAGE: Final = "agent-bridge"  # the PyPI distribution `uvx --from` installs when not run from a checkout
API_KEY_ENV: Final = "CUSTOMGPT_API_KEY"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_AGENT_IN_PATH = re.compile(r"/agents/([a-z0-9][a-z0-9-]*)(?:/|$)")
_ENDPOINT_SUFFIX = re.compile(r"/(mcp|sse)$")
_SCOPE_SUFFIX = re.compile(r"(/agents/[^/]+|/projects/[^/]+)?(/chatgpt)?$")
_PLACEHOLDERS: Final = {API_KEY_ENV: "<your CustomGPT API key>"}


@dataclass(frozen=True, slots=True)
class Snippet:
    title: str  # what it is and where it goes
    format: Format
    text: str


@dataclass(frozen=True, slots=True)
class Secret:
    """A value the user keeps secret: given on the command line (`value`, printed as given), or the
    environment variable `env` that holds it (referenced, never read)."""

    env: str
    value: str | None = None

    @property
    def placeholder(self) -> str:
        return _PLACEHOLDERS.get(self.env, f"<value of {self.env}>")


@dataclass(frozen=True, slots=True)
class Served:
    """A bridge served over HTTP, as a client reaches it."""

    mcp_url: str
    sse_url: str
    actions_schema_url: str
    token: Secret | None  # None: the bridge asks for no token (loopback, no tokens configured)
    transport: Transport = "http"

    @property
    def url(self) -> str:
        return self.mcp_url if self.transport == "http" else self.sse_url


@dataclass(frozen=True, slots=True)
class Local:
    """`agent-bridge stdio`, spawned by the client with the current backend settings."""

    command: str  # the installed `agent-bridge`
    args: tuple[str, ...]  # ("stdio",) or ("stdio", "--config", FILE)
    env: Mapping[str, str]  # plain settings (project ids, base URL)
    secrets: tuple[Secret, ...]  # what the client must pass from its environment (API keys)
    source: str  # what `uvx --from` installs: this checkout, or the PyPI package

    @property
    def uvx_args(self) -> list[str]:
        return ["--from", self.source, "agent-bridge", *self.args]


Target = Served | Local


# -- building targets -----------------------------------------------------------------------------


def served(
    url: str,
    *,
    token: str | None = None,
    token_env: str | None = None,
    agent: str | None = None,
    transport: Transport = "http",
) -> Served:
    """A served bridge from the URL the user gives: the bridge's base URL or one of its `/mcp`/`/sse` endpoints."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"--url {url!r} is not an http(s) URL; pass the bridge's URL, e.g. https://bridge.example.com"
        )
    if parts.query or parts.fragment:
        raise ConfigError("--url: leave the query out (pass the token with --token or --token-env)")
    path = parts.path.rstrip("/")
    found = _AGENT_IN_PATH.search(path)
    if agent is None and found:
        agent = found.group(1)
    if _ENDPOINT_SUFFIX.search(path):
        endpoint = path[: -len("/mcp")]
        prefix = _SCOPE_SUFFIX.sub("", endpoint)
    else:
        prefix = path
        endpoint = f"{path}/agents/{agent}" if agent else path
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    actions = f"{base}{prefix}/actions/{agent}/openapi.json" if agent else f"{base}{prefix}/actions/openapi.json"
    secret = Secret(token_env or "AGENT_BRIDGE_TOKEN", token) if (token or token_env) else None
    return Served(f"{base}{endpoint}/mcp", f"{base}{endpoint}/sse", actions, secret, transport)


def source_checkout() -> str:
    """This checkout when running from one (so `uvx --from` builds it), else the PyPI package name."""
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "agent-bridge"' in pyproject.read_text(encoding="utf-8"):
        return str(root)
    return PACKAGE


def installed_command() -> str:
    """The full path of the `agent-bridge` installed beside this interpreter (clients' PATH may not
    have it), else the bare name."""
    beside = Path(sys.executable).with_name("agent-bridge")
    return str(beside) if beside.exists() else "agent-bridge"


def local(config: Path | None, env: Mapping[str, str]) -> Local:
    """`agent-bridge stdio` with the current backend settings: the settings file (and the environment
    variables it refers to as `${NAME}`), else the CUSTOMGPT_* environment mode."""
    config = config or (Path(env["AGENT_BRIDGE_CONFIG"]) if env.get("AGENT_BRIDGE_CONFIG") else None)
    command, source = installed_command(), source_checkout()
    if config is not None:
        try:
            text = config.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ConfigError(f"{config}: cannot read it ({exc.strerror}); pass an existing settings file") from None
        names = dict.fromkeys(_ENV_REF.findall(text))
        secrets = tuple(Secret(n) for n in names)
        return Local(command, ("stdio", "--config", str(config.resolve())), {}, secrets, source)
    plain = {"CUSTOMGPT_PROJECT_IDS": env.get("CUSTOMGPT_PROJECT_IDS") or "<project id>[,<another project id>]"}
    base_url = env.get("CUSTOMGPT_BASE_URL")
    if base_url and base_url.rstrip("/") != DEFAULT_CUSTOMGPT_URL:
        plain["CUSTOMGPT_BASE_URL"] = base_url
    return Local(command, ("stdio",), plain, (Secret(API_KEY_ENV),), source)
