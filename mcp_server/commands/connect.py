"""`agent-bridge connect CLIENT`: print the ready configuration for one MCP client.

With `--url` the snippet points at a served bridge (`--token T` prints the token into it,
`--token-env NAME` refers to an environment variable instead); without it, the client spawns
`agent-bridge stdio` with the current backend settings (`--config FILE`, else the CUSTOMGPT_*
environment, whose API key is referenced, never copied). `--list` names the clients.
"""

from __future__ import annotations

import argparse
import os
import sys

from mcp_server.client_snippets import CLIENTS, DEFAULT_NAME, snippets
from mcp_server.config_loading import add_config_argument
from mcp_server.errors import ConfigError
from mcp_server.snippet_targets import Target, local, served


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("client", nargs="?", help="the client to configure (see --list)")
    parser.add_argument("--list", action="store_true", help="name the clients and exit")
    parser.add_argument("--url", help="a served bridge: its base URL or an /mcp or /sse endpoint")
    parser.add_argument("--agent", help="with --url: the agent's own endpoint (/agents/AGENT/mcp)")
    parser.add_argument("--token", help="with --url: the bridge token to put into the snippet")
    parser.add_argument(
        "--token-env", metavar="NAME", help="with --url: refer to the token in environment variable NAME instead"
    )
    parser.add_argument("--transport", choices=("http", "sse"), default="http", help="with --url (default http)")
    parser.add_argument(
        "--name", default=DEFAULT_NAME, help=f"the server's name in the client (default {DEFAULT_NAME})"
    )
    add_config_argument(parser)


def _target(args: argparse.Namespace) -> Target:
    if args.url is None:
        extra = [f for f in ("agent", "token", "token_env") if getattr(args, f)]
        if extra or args.transport != "http":
            flag = "--" + (extra[0] if extra else "transport").replace("_", "-")
            raise ConfigError(f"{flag} needs --url (the served bridge); without --url the snippet spawns stdio")
        return local(args.config, os.environ)
    if args.token and args.token_env:
        raise ConfigError("pass --token or --token-env, not both")
    return served(args.url, token=args.token, token_env=args.token_env, agent=args.agent, transport=args.transport)


def run(args: argparse.Namespace) -> int:
    if args.list or not args.client:
        width = max(len(n) for n in CLIENTS)
        for name, client in CLIENTS.items():
            print(f"{name:<{width}}  {client.title}")
        if not args.list:
            print("\nagent-bridge connect CLIENT [--url URL [--token T | --token-env NAME]]", file=sys.stderr)
            return 2
        return 0
    for i, snippet in enumerate(snippets(args.client, _target(args), args.name)):
        if i:
            print()
        print(f"# {snippet.title}")
        print(snippet.text)
    return 0
