"""`agent-bridge sandbox`: run the local CustomGPT-compatible test and demo upstream under uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from collections.abc import Generator
from pathlib import Path

import uvicorn

from mcp_server.errors import ConfigError
from mcp_server.sandbox.app import SandboxSettings, create_app
from mcp_server.sandbox.corpus import DOCS_HOST
from mcp_server.sandbox.faults import FAULT_KINDS, make_fault
from mcp_server.sandbox.openai_api import parse_gizmo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100, help="0 picks a free port (default 8100)")
    parser.add_argument("--api-key", default="sandbox-key", help="the key clients must send (default sandbox-key)")
    parser.add_argument(
        "--corpus",
        type=Path,
        action="append",
        default=[],
        help="a folder of .md/.txt documents served as the next project (2, 3, ...); repeatable",
    )
    parser.add_argument(
        "--gizmo",
        action="append",
        default=[],
        metavar="g-ID=DIR",
        help="serve folder DIR as the custom GPT `gpt-4-gizmo-g-ID` on /v1/chat/completions (g-demo is the demo); "
        "repeatable",
    )
    parser.add_argument(
        "--codegpt-org", help="the CodeGPT-Org-Id header CodeGPT's agent and document endpoints require (default: none)"
    )
    parser.add_argument(
        "--fault", choices=FAULT_KINDS, help="apply this fault to every API request (see FAULTS.md); test use only"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added before every /api response")
    parser.add_argument("--drip", type=float, default=0.0, help="seconds between streamed answer pieces")
    parser.add_argument(
        "--stamp",
        action="store_true",
        help="start each streamed conversation piece with its send time, '[sent <monotonic s>] ' (benchmarks)",
    )
    parser.add_argument(
        "--docs-url",
        default=DOCS_HOST,
        help=f"base URL of the documents' public pages (default {DOCS_HOST}); "
        "http://HOST:PORT/docs makes them this sandbox's own /docs pages",
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        with super().capture_signals():
            yield
            # SIGTERM/SIGINT is how the sandbox is told to stop: exit 0 instead of re-raising the signal.
            self._captured_signals.clear()


def run(args: argparse.Namespace) -> int:
    try:
        if args.latency < 0 or args.drip < 0:
            raise ValueError("--latency and --drip must not be negative")
        default_fault = make_fault(args.fault) if args.fault else None
        gizmos = tuple((gizmo, Path(folder)) for gizmo, folder in map(parse_gizmo, args.gizmo))
        settings = SandboxSettings(
            args.api_key,
            tuple(args.corpus),
            default_fault,
            args.latency,
            args.drip,
            args.docs_url.rstrip("/"),
            gizmos,
            args.codegpt_org,
            args.stamp,
        )
        app = create_app(settings)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    # A TCP socket that says so, with TCP_NODELAY: otherwise each kept-alive request waits ~40 ms on Nagle.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); pick another --port") from None
    sock.listen(2048)  # accept (queue) connections from the moment the ready line is printed
    host, port = sock.getsockname()[:2]
    # Keep-alive 30 s, as hosted APIs behind a load balancer keep theirs (60 s and more), well past the
    # bridge's 4 s pool expiry: with uvicorn's 5 s default a bridge whose loop lags a second under load
    # could reuse a connection the sandbox was closing, and a POST on it is (rightly) never retried.
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=1, timeout_keep_alive=30
    )
    server = _Server(config)
    print(f"agent-bridge sandbox ready on http://{host}:{port}", flush=True)
    server.run(sockets=[sock])
    sys.stdout.flush()
    return 0
