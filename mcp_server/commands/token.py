"""`agent-bridge token new`: a fresh client token, and the sha256 hash that goes in the config."""

from __future__ import annotations

import argparse
import json
import secrets

from mcp_server.auth import hash_token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="token_command", required=True, metavar="new")
    new = sub.add_parser("new", help="print a new random token and its [[tokens]] entry")
    new.add_argument("--name", default="client", help="a label for logs and the config (default: client)")
    new.add_argument("--agents", default="*", help="comma-separated agent names the token may use (default: all)")
    new.add_argument(
        "--tools", default="*", help="comma-separated tools, e.g. ask or support_ask (default: all the agents' tools)"
    )


def _toml_list(csv: str) -> str:
    return "[" + ", ".join(json.dumps(item.strip()) for item in csv.split(",") if item.strip()) + "]"


def run(args: argparse.Namespace) -> int:
    token = "ab_" + secrets.token_urlsafe(32)
    digest = hash_token(token)
    print(f"token:  {token}")
    print(f"sha256: {digest}")
    print()
    print("Give the token to the client; put only this in the configuration file:")
    print()
    print("[[tokens]]")
    print(f"name = {json.dumps(args.name)}")  # a JSON string is a valid TOML basic string
    print(f'sha256 = "{digest}"')
    print(f"agents = {_toml_list(args.agents)}")
    print(f"tools = {_toml_list(args.tools)}")
    return 0
