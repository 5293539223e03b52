"""Ready-to-paste configuration for every MCP client people use: the one generator behind
`agent-bridge connect CLIENT`, the snippets `agent-bridge demo` prints, and the connect page.

`CLIENTS` maps each client's name to the functions that write its configuration (`client_configs`
for the MCP clients, `framework_snippets` for the Python agent frameworks); `snippets` picks the one
for a target (`snippet_targets`: a served bridge or a spawned `agent-bridge stdio`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mcp_server.client_configs import (
    chatgpt_actions,
    claude_code_local,
    claude_code_served,
    claude_desktop_local,
    claude_desktop_served,
    cline,
    codex,
    continue_,
    cursor,
    gemini,
    librechat,
    n8n,
    open_webui_local,
    open_webui_served,
    vscode,
    windsurf,
    zed,
)
from mcp_server.errors import ConfigError
from mcp_server.framework_snippets import FRAMEWORKS
from mcp_server.snippet_targets import Local, Served, Snippet, Target

DEFAULT_NAME: Final = "agent-bridge"


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
        claude_desktop_served,
        claude_desktop_local,
    ),
    "claude-code": Client("Claude Code (`claude mcp add` command line)", claude_code_served, claude_code_local),
    "cursor": Client("Cursor (mcp.json)", *cursor),
    "windsurf": Client("Windsurf (mcp_config.json)", *windsurf),
    "vscode": Client("VS Code with Copilot (.vscode/mcp.json)", vscode, vscode),
    "gemini-cli": Client("Gemini CLI (settings.json)", gemini, gemini),
    "codex": Client("Codex CLI (config.toml)", codex, codex),
    "zed": Client("Zed (settings.json context_servers)", zed, zed),
    "cline": Client("Cline (cline_mcp_settings.json)", cline, cline),
    "continue": Client("Continue (config YAML block)", continue_, continue_),
    "librechat": Client("LibreChat (librechat.yaml)", librechat, librechat),
    "open-webui": Client("Open WebUI (External Tools; mcpo for stdio)", open_webui_served, open_webui_local),
    "n8n": Client("n8n (MCP Client Tool node)", n8n, None),
    "chatgpt-actions": Client("ChatGPT custom GPT Actions (OpenAPI schema URL)", chatgpt_actions, None),
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
