"""The Claude Desktop MCP Bundle's `manifest.json` (MCPB manifest 0.4, server type `uv`).

Claude Desktop installs the Python dependencies itself with uv: it runs `mcp_config`'s command in the
unpacked bundle (`${__dirname}`), which holds this project's `pyproject.toml` and `mcp_server` package,
with the user's settings (`${user_config.*}`) in the environment mode's variables. The tools listed come
from the operations registry, so the manifest never repeats what the code declares.
`agent-bridge bundle` writes it (and `bundle/manifest.json` in the checkout is its output, kept current
by a test).
"""

from __future__ import annotations

from typing import Any, Final

from mcp_server import __version__
from mcp_server.backends import KINDS
from mcp_server.config_loading import DEFAULT_CUSTOMGPT_URL
from mcp_server.operations import TOOLS
from mcp_server.operations.prompts import PROMPTS

MANIFEST_VERSION: Final = "0.4"
ICON: Final = "icon.png"
ENTRY_POINT: Final = "mcp_server/__main__.py"
AGENT_WORDS: Final = "your CustomGPT.ai agent"  # stands for {title}/{description} in the registry's texts

USER_CONFIG: Final[dict[str, dict[str, Any]]] = {
    "customgpt_api_key": {
        "type": "string",
        "title": "CustomGPT API key",
        "description": "Your CustomGPT.ai API key (Profile → API). Stored in the OS keychain.",
        "sensitive": True,
        "required": True,
    },
    "project_ids": {
        "type": "string",
        "title": "Project ids",
        "description": "The CustomGPT.ai project ids to use, separated by commas (e.g. 123,456). "
        "With several, each tool is prefixed with the project's name.",
        "required": True,
    },
    "base_url": {
        "type": "string",
        "title": "API base URL",
        "description": "Leave as is for CustomGPT.ai; change it only for a compatible self-hosted API.",
        "default": DEFAULT_CUSTOMGPT_URL,
        "required": False,
    },
}


def tools() -> list[dict[str, str]]:
    """The tools a CustomGPT agent serves, from the operations registry."""
    served = [op for op in TOOLS.values() if op.needs in KINDS["customgpt"].capabilities]
    return [{"name": op.name, "description": op.described(AGENT_WORDS)} for op in served]


def prompts() -> list[dict[str, Any]]:
    """The prompts a CustomGPT agent serves, from the registry. The bridge builds their messages itself (it asks
    the agent); `text` is what a client that only reads the manifest shows for each."""
    served = [op for op in PROMPTS.values() if TOOLS[op.tool].needs in KINDS["customgpt"].capabilities]
    return [
        {
            "name": op.name,
            "description": op.described(AGENT_WORDS),
            "arguments": list(op.args.model_fields),
            "text": " ".join(f"${{arguments.{a}}}" for a in op.args.model_fields),
        }
        for op in served
    ]


def manifest() -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "name": "agent-bridge",
        "display_name": "Agent Bridge (CustomGPT.ai)",
        "version": __version__,
        "description": "Your CustomGPT.ai agents in Claude: ask them, find their sources, list their data.",
        "long_description": (
            "Agent Bridge puts hosted RAG agents into MCP clients. Each CustomGPT.ai project becomes tools that "
            "ask the agent (answers with cited sources, streamed as they are written), search its sources and "
            "list its data, plus resources for its settings, sources and conversations."
        ),
        "author": {"name": "Agent Bridge contributors"},
        "license": "MIT",
        "keywords": ["customgpt", "rag", "agents", "knowledge base", "citations"],
        "icon": ICON,
        "server": {
            "type": "uv",
            "entry_point": ENTRY_POINT,
            "mcp_config": {
                "command": "uv",
                "args": ["run", "--directory", "${__dirname}", "--no-dev", "agent-bridge", "stdio"],
                "env": {
                    "CUSTOMGPT_API_KEY": "${user_config.customgpt_api_key}",
                    "CUSTOMGPT_PROJECT_IDS": "${user_config.project_ids}",
                    "CUSTOMGPT_BASE_URL": "${user_config.base_url}",
                },
            },
        },
        "tools": tools(),
        "tools_generated": True,  # several projects: tools are prefixed with each project's name
        "prompts": prompts(),
        "prompts_generated": True,  # likewise
        "compatibility": {"platforms": ["darwin", "win32", "linux"], "runtimes": {"python": ">=3.11"}},
        "user_config": USER_CONFIG,
    }
