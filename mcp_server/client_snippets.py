"""Ready-to-paste configuration for every MCP client people use: the one generator behind
`agent-bridge connect CLIENT`, the snippets `agent-bridge demo` prints, and the connect page.

A snippet connects a client either to a served bridge (`Served`: its Streamable HTTP and HTTP+SSE
URLs and how the client presents a token) or to `agent-bridge stdio` that the client spawns itself
(`Local`: the command, its arguments and environment). `CLIENTS` maps each client's name to the
functions that write its configuration in the client's own documented shape.

Secrets are never copied into a snippet from the environment. A token given on the command line is
printed (the user asked for it); otherwise a secret is referenced in the client's own syntax for
environment variables or prompted inputs (`${env:NAME}`, `${NAME}`, `${input:…}`, `${{ secrets.NAME }}`,
`"$NAME"` on a shell line, `env_vars`/`bearer_token_env_var` in Codex) and, where a client has no such
syntax, left as a placeholder to fill in.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

from mcp_server.config_loading import DEFAULT_CUSTOMGPT_URL
from mcp_server.errors import ConfigError
from mcp_server.framework_snippets import FRAMEWORKS
from mcp_server.snippet_text import ShellRef, ShellWord, to_json, to_shell, to_toml_table, to_yaml

Format = Literal["json", "toml", "yaml", "shell", "text", "python"]
Transport = Literal["http", "sse"]

DEFAULT_NAME: Final = "agent-bridge"
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


# -- how each client writes a secret ----------------------------------------------------------------

EnvSyntax = Callable[[str], str] | None  # NAME -> the client's reference to it; None: no such syntax


def _secret_text(secret: Secret, syntax: EnvSyntax) -> str:
    if secret.value is not None:
        return secret.value
    return syntax(secret.env) if syntax else secret.placeholder


def _auth_headers(target: Served, syntax: EnvSyntax) -> dict[str, str]:
    if target.token is None:
        return {}
    return {"Authorization": f"Bearer {_secret_text(target.token, syntax)}"}


def _env(target: Local, syntax: EnvSyntax) -> dict[str, str]:
    return {**target.env, **{s.env: _secret_text(s, syntax) for s in target.secrets}}


def _with_optional(entry: dict[str, Any], key: str, value: Mapping[str, str]) -> dict[str, Any]:
    return {**entry, key: dict(value)} if value else entry


def _cursor_syntax(name: str) -> str:
    return f"${{env:{name}}}"


def _dollar_braces(name: str) -> str:
    return f"${{{name}}}"


def _continue_syntax(name: str) -> str:
    return f"${{{{ secrets.{name} }}}}"


def _no_sse(client: str, target: Served) -> None:
    if target.transport == "sse":
        raise ConfigError(f"{client} connects over Streamable HTTP only; leave out --transport sse")


# -- the clients ----------------------------------------------------------------------------------


def _claude_desktop_served(target: Served, name: str) -> list[Snippet]:
    headers = _auth_headers(target, None)
    remote = [target.url, "--transport", "http-only" if target.transport == "http" else "sse-only"]
    for key, value in headers.items():
        remote += ["--header", f"{key}:{value}"]
    gateway = ["--streamableHttp", target.url] if target.transport == "http" else ["--sse", target.url]
    for key, value in headers.items():
        gateway += ["--header", f"{key}: {value}"]
    where = "claude_desktop_config.json (Settings → Developer → Edit Config)"
    return [
        Snippet(
            f"Claude Desktop through mcp-remote (relays progress), {where}",
            "json",
            to_json({"mcpServers": {name: {"command": "npx", "args": ["-y", "mcp-remote@0.15.1", *remote]}}}),
        ),
        Snippet(
            f"Claude Desktop through supergateway (answers arrive whole), {where}",
            "json",
            to_json({"mcpServers": {name: {"command": "npx", "args": ["-y", "supergateway@4.0.0", *gateway]}}}),
        ),
    ]


BUNDLE_STEPS: Final = (
    "Build the bundle once: `agent-bridge bundle` (writes dist/agent-bridge.mcpb; needs Node.js for `npx`).\n"
    "Open the .mcpb file with Claude Desktop (or Settings → Extensions → Advanced settings → Install Extension),\n"
    "then fill in your CustomGPT API key (kept in the OS keychain) and project ids. Claude Desktop installs\n"
    "the Python dependencies itself with uv."
)


def claude_desktop_installed(target: Local, name: str) -> Snippet:
    entry = {"command": target.command, "args": list(target.args), "env": _env(target, None)}
    return Snippet(
        "Claude Desktop with agent-bridge installed, claude_desktop_config.json",
        "json",
        to_json({"mcpServers": {name: entry}}),
    )


def _claude_desktop_local(target: Local, name: str) -> list[Snippet]:
    uvx = {"command": "uvx", "args": target.uvx_args, "env": _env(target, None)}
    return [
        Snippet("Claude Desktop, one click: the MCP Bundle", "text", BUNDLE_STEPS),
        Snippet(
            "Claude Desktop with uv (no virtual environment to manage), claude_desktop_config.json "
            "(Settings → Developer → Edit Config)",
            "json",
            to_json({"mcpServers": {name: uvx}}),
        ),
        claude_desktop_installed(target, name),
    ]


def _claude_code_served(target: Served, name: str) -> list[Snippet]:
    words: list[ShellWord] = ["claude", "mcp", "add", "--transport", target.transport, name, target.url]
    if target.token is not None:
        token = target.token
        words += [
            "--header",
            f"Authorization: Bearer {token.value}" if token.value else ShellRef(token.env, "Authorization: Bearer "),
        ]
    return [Snippet("Claude Code: run in your project (add --scope user for every project)", "shell", to_shell(words))]


def _claude_code_local(target: Local, name: str) -> list[Snippet]:
    words: list[ShellWord] = ["claude", "mcp", "add", name]
    for key, value in target.env.items():
        words += ["-e", f"{key}={value}"]
    for secret in target.secrets:
        words += ["-e", ShellRef(secret.env, f"{secret.env}=")]
    words += ["--", target.command, *target.args]
    return [Snippet("Claude Code: run in your project (add --scope user for every project)", "shell", to_shell(words))]


def _url_entry_served(url_key: str, syntax: EnvSyntax) -> Callable[[Served, str], dict[str, Any]]:
    def entry(target: Served, name: str) -> dict[str, Any]:
        return _with_optional({url_key: target.url}, "headers", _auth_headers(target, syntax))

    return entry


def _command_entry(target: Local, syntax: EnvSyntax) -> dict[str, Any]:
    return {"command": target.command, "args": list(target.args), "env": _env(target, syntax)}


def _mcp_servers_client(
    title: str, url_key: str, syntax: EnvSyntax
) -> tuple[Callable[[Served, str], list[Snippet]], Callable[[Local, str], list[Snippet]]]:
    """A client whose file is `{"mcpServers": {NAME: {url|command…}}}` (Cursor, Windsurf)."""
    remote = _url_entry_served(url_key, syntax)

    def on_served(target: Served, name: str) -> list[Snippet]:
        return [Snippet(title, "json", to_json({"mcpServers": {name: remote(target, name)}}))]

    def on_local(target: Local, name: str) -> list[Snippet]:
        return [Snippet(title, "json", to_json({"mcpServers": {name: _command_entry(target, syntax)}}))]

    return on_served, on_local


_cursor = _mcp_servers_client("Cursor: ~/.cursor/mcp.json (or .cursor/mcp.json in a project)", "url", _cursor_syntax)
_windsurf = _mcp_servers_client("Windsurf: ~/.codeium/windsurf/mcp_config.json", "serverUrl", _cursor_syntax)


def _vscode(target: Target, name: str) -> list[Snippet]:
    inputs: list[dict[str, Any]] = []

    def prompted(env: str) -> str:
        input_id = env.lower().replace("_", "-")
        inputs.append({"type": "promptString", "id": input_id, "description": env, "password": True})
        return f"${{input:{input_id}}}"

    if isinstance(target, Served):
        entry: dict[str, Any] = {"type": target.transport, "url": target.url}
        entry = _with_optional(entry, "headers", _auth_headers(target, prompted))
    else:
        entry = {"type": "stdio", **_command_entry(target, prompted)}
    document: dict[str, Any] = {"inputs": inputs, "servers": {name: entry}} if inputs else {"servers": {name: entry}}
    title = "VS Code (Copilot agent mode): .vscode/mcp.json; secrets are asked for once and stored by VS Code"
    return [Snippet(title, "json", to_json(document))]


def _gemini(target: Target, name: str) -> list[Snippet]:
    if isinstance(target, Served):
        entry: dict[str, Any] = {"url": target.url, "type": target.transport}
        entry = _with_optional(entry, "headers", _auth_headers(target, _dollar_braces))
    else:
        entry = _command_entry(target, _dollar_braces)
    title = "Gemini CLI: .gemini/settings.json in your project (or ~/.gemini/settings.json), merged into mcpServers"
    return [Snippet(title, "json", to_json({"mcpServers": {name: entry}}))]


def _codex(target: Target, name: str) -> list[Snippet]:
    values: dict[str, Any]
    if isinstance(target, Served):
        _no_sse("Codex CLI", target)
        values = {"url": target.url}
        if target.token is not None and target.token.value is not None:
            values["http_headers"] = {"Authorization": f"Bearer {target.token.value}"}
        elif target.token is not None:
            values["bearer_token_env_var"] = target.token.env
    else:
        values = {"command": target.command, "args": list(target.args)}
        if target.env:
            values["env"] = dict(target.env)
        if target.secrets:
            values["env_vars"] = [s.env for s in target.secrets]  # passed through from Codex's environment
    values["tool_timeout_sec"] = 300  # an agent's answer can take longer than Codex's 60 s default
    return [Snippet("Codex CLI: ~/.codex/config.toml", "toml", to_toml_table(("mcp_servers", name), values))]


def _zed(target: Target, name: str) -> list[Snippet]:
    if isinstance(target, Served):
        _no_sse("Zed", target)
        entry: dict[str, Any] = _with_optional({"url": target.url}, "headers", _auth_headers(target, None))
    else:
        entry = _command_entry(target, None)
    title = "Zed: settings.json (zed: open settings), merged into context_servers"
    return [Snippet(title, "json", to_json({"context_servers": {name: entry}}))]


def _cline(target: Target, name: str) -> list[Snippet]:
    if isinstance(target, Served):
        kind = "streamableHttp" if target.transport == "http" else "sse"
        entry: dict[str, Any] = _with_optional(
            {"type": kind, "url": target.url}, "headers", _auth_headers(target, None)
        )
    else:
        entry = {"type": "stdio", **_command_entry(target, None)}
    entry = {**entry, "timeout": 300, "disabled": False}  # seconds; Cline's default 60 is short for an answer
    title = "Cline: cline_mcp_settings.json (MCP Servers → Configure → Configure MCP Servers)"
    return [Snippet(title, "json", to_json({"mcpServers": {name: entry}}))]


def _continue(target: Target, name: str) -> list[Snippet]:
    if isinstance(target, Served):
        kind = "streamable-http" if target.transport == "http" else "sse"
        entry: dict[str, Any] = {"name": name, "type": kind, "url": target.url}
        headers = _auth_headers(target, _continue_syntax)
        if headers:
            entry["requestOptions"] = {"headers": headers}
    else:
        entry = {"name": name, **_command_entry(target, _continue_syntax)}
    block = {"name": "Agent Bridge", "version": "0.0.1", "schema": "v1", "mcpServers": [entry]}
    return [
        Snippet(f"Continue: .continue/mcpServers/{name}.yaml (secrets from Continue's secrets)", "yaml", to_yaml(block))
    ]


def _librechat(target: Target, name: str) -> list[Snippet]:
    if isinstance(target, Served):
        kind = "streamable-http" if target.transport == "http" else "sse"
        entry: dict[str, Any] = {"type": kind, "url": target.url}
        entry = _with_optional(entry, "headers", _auth_headers(target, _dollar_braces))
    else:
        entry = _command_entry(target, _dollar_braces)
    entry["timeout"] = 300000  # ms; an agent's answer can take tens of seconds
    return [
        Snippet(
            "LibreChat: librechat.yaml (values from LibreChat's .env)", "yaml", to_yaml({"mcpServers": {name: entry}})
        )
    ]


def _open_webui_served(target: Served, name: str) -> list[Snippet]:
    _no_sse("Open WebUI", target)
    fields: dict[str, str] = {"Type": "MCP (Streamable HTTP)", "URL": target.url}
    if target.token is not None:
        fields |= {"Auth": "Bearer", "Key": _secret_text(target.token, None)}
    else:
        fields |= {"Auth": "None"}
    fields["ID"] = name
    return [Snippet("Open WebUI: Admin Panel → Settings → External Tools → Add Connection", "json", to_json(fields))]


def _open_webui_local(target: Local, name: str) -> list[Snippet]:
    words: list[ShellWord] = ["env"]
    words += [f"{k}={v}" for k, v in target.env.items()]
    words += [
        "uvx",
        "mcpo",
        "--port",
        "8001",
        "--api-key",
        ShellRef("MCPO_API_KEY"),
        "--",
        target.command,
        *target.args,
    ]
    title = (
        "Open WebUI through mcpo (stdio → OpenAPI): run this where the secrets are exported, then add "
        "http://localhost:8001 under Admin Panel → Settings → External Tools (type OpenAPI, Bearer $MCPO_API_KEY)"
    )
    return [Snippet(title, "shell", to_shell(words))]


def _n8n(target: Served, name: str) -> list[Snippet]:
    fields: dict[str, str] = {
        "Endpoint": target.url,
        "Server Transport": "HTTP Streamable" if target.transport == "http" else "Server Sent Events (Deprecated)",
    }
    if target.token is not None:
        fields |= {"Authentication": "Bearer Auth", "Bearer Token": _secret_text(target.token, None)}
    else:
        fields |= {"Authentication": "None"}
    return [Snippet("n8n MCP Client Tool node (see configs/n8n-mcp-client-tool.md)", "json", to_json(fields))]


def _chatgpt_actions(target: Served, name: str) -> list[Snippet]:
    fields = {"Import from URL": target.actions_schema_url}
    if target.token is not None:
        fields |= {"Authentication": "API Key", "Auth Type": "Bearer", "API Key": _secret_text(target.token, None)}
    else:
        fields |= {"Authentication": "None"}
    title = "ChatGPT custom GPT: Configure → Create new action (the bridge must be reachable from the internet)"
    return [Snippet(title, "json", to_json(fields))]


@dataclass(frozen=True, slots=True)
class Client:
    title: str
    on_served: Callable[[Served, str], list[Snippet]] | None
    on_local: Callable[[Local, str], list[Snippet]] | None


def _framework(title: str, write: Callable[[Served], str]) -> Client:
    def on_served(target: Served, name: str) -> list[Snippet]:
        return [Snippet(f"{title}: save as a .py file, run it with a question", "python", write(target))]

    return Client(title, on_served, None)


CLIENTS: Final[dict[str, Client]] = {
    "claude-desktop": Client(
        "Claude Desktop (bundle, uvx, installed; mcp-remote or supergateway for a URL)",
        _claude_desktop_served,
        _claude_desktop_local,
    ),
    "claude-code": Client("Claude Code (`claude mcp add` command line)", _claude_code_served, _claude_code_local),
    "cursor": Client("Cursor (mcp.json)", *_cursor),
    "windsurf": Client("Windsurf (mcp_config.json)", *_windsurf),
    "vscode": Client("VS Code with Copilot (.vscode/mcp.json)", _vscode, _vscode),
    "gemini-cli": Client("Gemini CLI (settings.json)", _gemini, _gemini),
    "codex": Client("Codex CLI (config.toml)", _codex, _codex),
    "zed": Client("Zed (settings.json context_servers)", _zed, _zed),
    "cline": Client("Cline (cline_mcp_settings.json)", _cline, _cline),
    "continue": Client("Continue (config YAML block)", _continue, _continue),
    "librechat": Client("LibreChat (librechat.yaml)", _librechat, _librechat),
    "open-webui": Client("Open WebUI (External Tools; mcpo for stdio)", _open_webui_served, _open_webui_local),
    "n8n": Client("n8n (MCP Client Tool node)", _n8n, None),
    "chatgpt-actions": Client("ChatGPT custom GPT Actions (OpenAPI schema URL)", _chatgpt_actions, None),
    **{name: _framework(title, write) for name, (title, write) in FRAMEWORKS.items()},
}


def snippets(client: str, target: Target, name: str = DEFAULT_NAME) -> list[Snippet]:
    """The configuration `client` needs to reach `target`, as a server called `name`."""
    spec = CLIENTS.get(client)
    if spec is None:
        raise ConfigError(f"unknown client {client!r}; the clients are {', '.join(CLIENTS)}")
    if isinstance(target, Served):
        if spec.on_served is None:  # pragma: no cover - every client reaches a served bridge
            raise ConfigError(f"{client} cannot reach a served bridge")
        return spec.on_served(target, name)
    if spec.on_local is None:
        raise ConfigError(
            f"{client} connects to a served bridge here: serve it (`agent-bridge serve`) and pass its URL with --url"
        )
    return spec.on_local(target, name)
