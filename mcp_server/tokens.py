"""`agent-bridge token new`: a fresh client token, and the sha256 hash that goes in the config."""

from __future__ import annotations

import argparse
import secrets

from mcp_server.auth import hash_token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="token_command", required=True, metavar="new")
    new = sub.add_parser("new", help="print a new random token and its [[tokens]] entry")
    new.add_argument("--name", default="client", help="a label for logs and the config (default: client)")
    new.add_argument("--agents", default="*", help="comma-separated agent names the token may use (default: all)")


def run(args: argparse.Namespace) -> int:
    token = "ab_" + secrets.token_urlsafe(32)
    agents = ", ".join(f'"{a.strip()}"' for a in args.agents.split(",") if a.strip())
    print(f"token:  {token}")
    print(f"sha256: {hash_token(token)}")
    print()
    print("Give the token to the client; put only this in the configuration file:")
    print()
    print("[[tokens]]")
    print(f'name = "{args.name}"')
    print(f'sha256 = "{hash_token(token)}"')
    print(f"agents = [{agents}]")
    return 0
