"""`agent-bridge` command line: parses arguments, sets up logging, starts one entry point.

Subcommand modules are imported lazily so `agent-bridge --help` stays fast and a broken optional
piece cannot stop the others from starting.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from mcp_server import __version__
from mcp_server.errors import ConfigError

Runner = Callable[[argparse.Namespace], int]


def _setup_logging(level: str) -> None:
    # stderr only: stdout belongs to the stdio transport.
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.WARNING),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _sandbox(parser: argparse.ArgumentParser) -> Runner:
    from mcp_server.sandbox import cli as sandbox_cli

    sandbox_cli.add_arguments(parser)
    return sandbox_cli.run


def _stdio(parser: argparse.ArgumentParser) -> Runner:
    from mcp_server import stdio

    stdio.add_arguments(parser)
    return stdio.run


def _serve(parser: argparse.ArgumentParser) -> Runner:
    from mcp_server import serve

    serve.add_arguments(parser)
    return serve.run


def _demo(parser: argparse.ArgumentParser) -> Runner:
    from mcp_server import demo

    demo.add_arguments(parser)
    return demo.run


def _check_config(parser: argparse.ArgumentParser) -> Runner:
    from mcp_server import config

    config.add_check_arguments(parser)
    return config.run_check


def _token(parser: argparse.ArgumentParser) -> Runner:
    from mcp_server import tokens

    tokens.add_arguments(parser)
    return tokens.run


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], Runner]]] = {
    "demo": ("run the built-in demo: sandbox upstream, bridge, a real MCP client", _demo),
    "stdio": ("serve MCP over stdio (Claude Desktop, supergateway --stdio)", _stdio),
    "serve": ("serve MCP over Streamable HTTP and HTTP+SSE", _serve),
    "check-config": ("validate a configuration file and print the agents it defines", _check_config),
    "token": ("create client tokens and their sha256 hashes", _token),
    "sandbox": ("run the local CustomGPT-compatible test and demo upstream", _sandbox),
}


def build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, Runner | None]:
    parser = argparse.ArgumentParser(prog="agent-bridge", description="Hosted RAG agents as MCP tools.")
    parser.add_argument("--version", action="version", version=f"agent-bridge {__version__}")
    parser.add_argument("--log-level", default="warning", help="debug, info, warning (default), error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only the chosen subcommand's module is imported.
    chosen = next((a for a in argv if a in COMMANDS), None)
    runner: Runner | None = None
    for name, (help_text, register) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            runner = register(sp)
    return parser, runner


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, runner = build_parser(args_list)
    args = parser.parse_args(args_list)
    if runner is None:
        parser.print_help()
        return 2
    _setup_logging(args.log_level)
    try:
        return runner(args)
    except ConfigError as exc:
        print(f"agent-bridge: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
