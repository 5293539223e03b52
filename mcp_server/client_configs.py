"""Each MCP client's configuration in the client's own documented shape: one function per client (or a
served/local pair) that writes a `Served` or `Local` target as that client's snippets.

Secrets are never copied into a snippet from the environment. A token given on the command line is
printed (the user asked for it); otherwise a secret is referenced in the client's own syntax for
environment variables or prompted inputs (`${env:NAME}`, `${NAME}`, `${input:…}`, `${{ secrets.NAME }}`,
`"$NAME"` on a shell line, `env_vars`/`bearer_token_env_var` in Codex) and, where a client has no such
syntax, left as a placeholder to fill in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from mcp_server.errors import ConfigError
from mcp_server.snippet_targets import Local, Secret, Served, Snippet, Target
from mcp_server.snippet_text import ShellRef, ShellWord, to_json, to_shell, to_toml_table, to_yaml

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


def claude_desktop_served(target: Served, name: str) -> list[Snippet]:
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


def claude_desktop_local(target: Local, name: str) -> list[Snippet]:
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


def claude_code_served(target: Served, name: str) -> list[Snippet]:
    words: list[ShellWord] = ["claude", "mcp", "add", "--transport", target.transport, name, target.url]
    if target.token is not None:
        token = target.token
        words += [
            "--header",
            f"Authorization: Bearer {token.value}" if token.value else ShellRef(token.env, "Authorization: Bearer "),
        ]
    return [Snippet("Claude Code: run in your project (add --scope user for every project)", "shell", to_shell(words))]


def claude_code_local(target: Local, name: str) -> list[Snippet]:
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


cursor = _mcp_servers_client("Cursor: ~/.cursor/mcp.json (or .cursor/mcp.json in a project)", "url", _cursor_syntax)
windsurf = _mcp_servers_client("Windsurf: ~/.codeium/windsurf/mcp_config.json", "serverUrl", _cursor_syntax)


def vscode(target: Target, name: str) -> list[Snippet]:
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


def gemini(target: Target, name: str) -> list[Snippet]:
    if isinstance(target, Served):
        entry: dict[str, Any] = {"url": target.url, "type": target.transport}
        entry = _with_optional(entry, "headers", _auth_headers(target, _dollar_braces))
    else:
        entry = _command_entry(target, _dollar_braces)
    title = "Gemini CLI: .gemini/settings.json in your project (or ~/.gemini/settings.json), merged into mcpServers"
    return [Snippet(title, "json", to_json({"mcpServers": {name: entry}}))]


def codex(target: Target, name: str) -> list[Snippet]:
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


def zed(target: Target, name: str) -> list[Snippet]:
    if isinstance(target, Served):
        _no_sse("Zed", target)
        entry: dict[str, Any] = _with_optional({"url": target.url}, "headers", _auth_headers(target, None))
    else:
        entry = _command_entry(target, None)
    title = "Zed: settings.json (zed: open settings), merged into context_servers"
    return [Snippet(title, "json", to_json({"context_servers": {name: entry}}))]


def cline(target: Target, name: str) -> list[Snippet]:
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


def continue_(target: Target, name: str) -> list[Snippet]:
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


def librechat(target: Target, name: str) -> list[Snippet]:
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


def open_webui_served(target: Served, name: str) -> list[Snippet]:
    _no_sse("Open WebUI", target)
    fields: dict[str, str] = {"Type": "MCP (Streamable HTTP)", "URL": target.url}
    if target.token is not None:
        fields |= {"Auth": "Bearer", "Key": _secret_text(target.token, None)}
    else:
        fields |= {"Auth": "None"}
    fields["ID"] = name
    return [Snippet("Open WebUI: Admin Panel → Settings → External Tools → Add Connection", "json", to_json(fields))]


def open_webui_local(target: Local, name: str) -> list[Snippet]:
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


def n8n(target: Served, name: str) -> list[Snippet]:
    fields: dict[str, str] = {
        "Endpoint": target.url,
        "Server Transport": "HTTP Streamable" if target.transport == "http" else "Server Sent Events (Deprecated)",
    }
    if target.token is not None:
        fields |= {"Authentication": "Bearer Auth", "Bearer Token": _secret_text(target.token, None)}
    else:
        fields |= {"Authentication": "None"}
    return [Snippet("n8n MCP Client Tool node (see configs/n8n-mcp-client-tool.md)", "json", to_json(fields))]


def chatgpt_actions(target: Served, name: str) -> list[Snippet]:
    fields = {"Import from URL": target.actions_schema_url}
    if target.token is not None:
        fields |= {"Authentication": "API Key", "Auth Type": "Bearer", "API Key": _secret_text(target.token, None)}
    else:
        fields |= {"Authentication": "None"}
    title = "ChatGPT custom GPT: Configure → Create new action (the bridge must be reachable from the internet)"
    return [Snippet(title, "json", to_json(fields))]
