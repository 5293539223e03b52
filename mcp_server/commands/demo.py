"""`agent-bridge demo`: see the whole thing work with no account and no configuration.

It starts the sandbox (a local stand-in for the CustomGPT.ai API, serving a demo knowledge base),
spawns `agent-bridge stdio` under a real MCP client exactly as Claude Desktop would, lists the tools,
asks the demo agent a question while the answer streams in, prints the answer with its sources,
and prints the configuration snippets (from `client_snippets`, like `agent-bridge connect`) that do the
same against a real CustomGPT.ai account.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import signal
import socket
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from mcp_server import launch
from mcp_server.client_configs import claude_desktop_installed
from mcp_server.client_snippets import snippets
from mcp_server.errors import ConfigError
from mcp_server.snippet_targets import Snippet, local, served

DEFAULT_QUESTION = "How long are backups kept on the Pro plan?"
SANDBOX_KEY = "sandbox-key"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--question", default=DEFAULT_QUESTION, help="what to ask the demo agent")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port for the demo server (default 8000)")
    parser.add_argument("--no-serve", action="store_true", help="stop after the stdio run instead of serving HTTP")


def _print(text: str = "") -> None:
    print(text, flush=True)


async def ask_over_stdio(sandbox_url: str, question: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "stdio"],
        env={"CUSTOMGPT_BASE_URL": sandbox_url, "CUSTOMGPT_API_KEY": SANDBOX_KEY, "CUSTOMGPT_PROJECT_IDS": "1"},
    )
    async with Client(params, mode="legacy") as client:
        tools = await client.list_tools()
        _print("Tools the bridge offers over stdio:")
        for tool in tools.tools:
            _print(f"  {tool.name:<18} {tool.title}")
        _print()
        _print(f"Asking: {question}")
        _print("Answer (streamed as MCP progress notifications):")
        streamed: list[str] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            if message:
                streamed.append(message)
                sys.stdout.write(message)
                sys.stdout.flush()

        result = await client.call_tool("ask", {"question": question}, progress_callback=on_progress)
        structured: dict[str, Any] = result.structured_content or {}
        if not streamed:
            _print(str(structured.get("answer", "")))
        _print()
        if result.is_error:
            text = result.content[0].text if result.content and result.content[0].type == "text" else ""
            raise SystemExit(f"the demo call failed: {text}")
        _print()
        _print("Sources:")
        for i, citation in enumerate(structured.get("citations", []), 1):
            _print(f"  [{i}] {citation.get('title')} <{citation.get('url')}>")
        _print(f"conversation_id: {structured.get('conversation_id')} (pass it back to ask a follow-up)")


def demo_config(directory: Path, sandbox_url: str, port: int, token: str) -> Path:
    path = directory / "agent-bridge-demo.toml"
    digest = hashlib.sha256(token.encode()).hexdigest()
    path.write_text(
        "[server]\n"
        f"port = {port}\n"
        "[backends.customgpt]\n"
        f'api_key = "{SANDBOX_KEY}"\n'
        f'base_url = "{sandbox_url}"\n'
        "[[agents]]\n"
        'name = "support"\n'
        "project_id = 1\n"
        'title = "Northwind Support"\n'
        "[[tokens]]\n"
        'name = "demo"\n'
        f'sha256 = "{digest}"\n'
        "[actions]\n"
        "enabled = true\n"
    )
    return path


def actions_settings(base: str, token: str) -> list[str]:
    """What to enter in a custom GPT's Actions (or any OpenAPI tool) for the running demo server."""
    return [
        "ChatGPT custom GPT (Configure -> Actions -> Create new action) or any OpenAPI tool:",
        f"  Import from URL:  {base}/actions/support/openapi.json   (3.0.3: add ?openapi=3.0)",
        "  Authentication:   API Key, Auth Type Bearer (or Custom header X-API-Key: ?auth=api_key on the URL)",
        f"  API Key:          {token}",
        "  (ChatGPT reaches only a public https URL: put the bridge behind a proxy and set server.public_url.)",
    ]


DEMO_CLIENTS = ("cursor", "windsurf", "claude-desktop", "n8n")


def client_snippets(base: str, token: str) -> list[Snippet]:
    """Ready-to-paste configuration for some clients, pointing at the running demo server."""
    target = served(f"{base}/agents/support/mcp", token=token)
    return [snippet for client in DEMO_CLIENTS for snippet in snippets(client, target, "northwind")]


def serve_http(sandbox_url: str, port: int) -> None:
    token = "demo-" + secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as tmp:
        config = demo_config(Path(tmp), sandbox_url, port, token)
        with launch.running(["serve", "--config", str(config), "--port", str(port)]) as server:
            _print(f"Agent Bridge is serving the demo agent over HTTP at {server.url}")
            _print(f"  Streamable HTTP: {server.url}/agents/support/mcp   HTTP+SSE: {server.url}/agents/support/sse")
            _print(f"  demo token (valid for this run only): {token}")
            for snippet in client_snippets(server.url, token):
                _print()
                _print(f"{snippet.title}:")
                _print(snippet.text)
            _print()
            _print("Every other client: agent-bridge connect --list, then")
            _print(f"  agent-bridge connect CLIENT --url {server.url}/agents/support/mcp --token {token}")
            _print()
            for line in actions_settings(server.url, token):
                _print(line)
            _print()
            _print("Press Ctrl-C to stop.")
            server.process.wait()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def next_free_port(port: int) -> int | None:
    return next((p for p in range(port + 1, min(port + 100, 65536)) if port_is_free(p)), None)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def run(args: argparse.Namespace) -> int:
    # SIGTERM unwinds like Ctrl-C, so the sandbox and server children are stopped on the way out.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if not args.no_serve and args.port and not port_is_free(args.port):
        free = next_free_port(args.port)
        offer = f"; try --port {free}" if free else "; pick another --port"
        raise ConfigError(f"cannot listen on 127.0.0.1:{args.port} (the port is in use){offer}")
    _print("Starting the sandbox: a local test upstream that imitates the CustomGPT.ai API (not the real service).")
    with launch.running(["sandbox", "--port", "0", "--api-key", SANDBOX_KEY], quiet=True) as sandbox:
        _print(f"  sandbox at {sandbox.url}, demo agent = project 1")
        _print()
        anyio.run(ask_over_stdio, sandbox.url, args.question)
        _print()
        _print("To use your real CustomGPT.ai agents from Claude Desktop, add this to claude_desktop_config.json:")
        _print(claude_desktop_installed(local(None, {}), "customgpt").text)
        _print("No virtual environment to manage, or a one-click bundle: agent-bridge connect claude-desktop")
        _print()
        if not args.no_serve:
            serve_http(sandbox.url, args.port)
    return 0
