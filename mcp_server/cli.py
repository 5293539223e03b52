"""`agent-bridge` command line: parses arguments, sets up logging, starts one entry point.

Subcommand modules are imported lazily so `agent-bridge --help` stays fast and a broken optional
piece cannot stop the others from starting.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from mcp_server import __version__, log_redaction
from mcp_server.errors import BridgeError, ConfigError
from mcp_server.telemetry.json_logs import FORMATS, JsonFormatter

Runner = Callable[[argparse.Namespace], int]


def setup_logging(level: str, log_format: str = "text") -> None:
    """The root logger: stderr only (stdout belongs to the stdio transport), text for people or JSON lines."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.WARNING),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        log_redaction.install(handler)
        if log_format == "json":
            handler.setFormatter(JsonFormatter())


class Subcommand(Protocol):
    """A subcommand module: it adds its arguments to a parser and runs with the parsed result."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# name -> (help, module); a module is imported only when its subcommand is chosen.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("run the built-in demo: sandbox upstream, bridge, a real MCP client", "mcp_server.commands.demo"),
    "stdio": ("serve MCP over stdio (Claude Desktop, supergateway --stdio)", "mcp_server.commands.stdio"),
    "serve": ("serve MCP over Streamable HTTP and HTTP+SSE", "mcp_server.commands.serve"),
    "check-config": (
        "validate a settings file and print the agents it defines",
        "mcp_server.commands.check_config",
    ),
    "connect": ("print the configuration that connects one MCP client", "mcp_server.commands.connect"),
    "bundle": ("build the Claude Desktop MCP Bundle (.mcpb) from this checkout", "mcp_server.commands.bundle"),
    "token": ("create client tokens and their sha256 hashes", "mcp_server.commands.token"),
    "reload": ("make a running `agent-bridge serve` reload its configuration (SIGHUP)", "mcp_server.commands.reload"),
    "sandbox": ("run the local CustomGPT-compatible test and demo upstream", "mcp_server.sandbox.cli"),
}


def _register(module_name: str, parser: argparse.ArgumentParser) -> Runner:
    module = cast(Subcommand, importlib.import_module(module_name))
    module.add_arguments(parser)
    return module.run


def build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, Runner | None]:
    parser = argparse.ArgumentParser(prog="agent-bridge", description="Hosted RAG agents as MCP tools.")
    parser.add_argument("--version", action="version", version=f"agent-bridge {__version__}")
    parser.add_argument("--log-level", default="warning", help="debug, info, warning (default), error")
    parser.add_argument(
        "--log-format", default="text", choices=FORMATS, help="text (default) or json (one object a line)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only the chosen subcommand's module is imported.
    chosen = next((a for a in argv if a in COMMANDS), None)
    runner: Runner | None = None
    for name, (help_text, module_name) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        # `agent-bridge serve --log-level info` works as well as `agent-bridge --log-level info serve`.
        sp.add_argument("--log-level", default=argparse.SUPPRESS, help="debug, info, warning (default), error")
        sp.add_argument("--log-format", default=argparse.SUPPRESS, choices=FORMATS, help="text (default) or json")
        if name == chosen:
            runner = _register(module_name, sp)
    return parser, runner


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, runner = build_parser(args_list)
    args = parser.parse_args(args_list)
    if runner is None:
        parser.print_help()
        return 2
    setup_logging(args.log_level, args.log_format)
    try:
        return runner(args)
    except ConfigError as exc:
        print(f"agent-bridge: configuration error: {exc}", file=sys.stderr)
        return 2
    except BridgeError as exc:  # e.g. a child process that did not start: its own words, no traceback
        print(f"agent-bridge: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
