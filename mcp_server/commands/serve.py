"""`agent-bridge serve`: the HTTP app under uvicorn, with the bind-safety rule and graceful shutdown."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Final, NoReturn

import uvicorn
from sse_starlette.sse import AppStatus
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

from mcp_server.cli import setup_logging
from mcp_server.config import BridgeConfig
from mcp_server.config_loading import NODE_ID_ENV, add_config_argument, load
from mcp_server.connection_limits import head_timeout_protocol
from mcp_server.errors import ConfigError
from mcp_server.http_app import create_app
from mcp_server.node_id import Source, with_node_id
from mcp_server.telemetry.metrics import MULTIPROC_DIR_ENV
from mcp_server.telemetry.metrics_listener import serving_metrics
from mcp_server.worker_relay import SOCKETS_DIR_ENV, WorkerRelay

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--host", help="address to bind (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind; 0 picks a free one (default: server.port, 8000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (needs stateless mode; default 1)")
    parser.add_argument(
        "--pid-file",
        type=Path,
        help="write this process's id to the file while serving (for `agent-bridge reload --pid-file`)",
    )
    parser.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="allow a non-loopback bind with no tokens configured (anyone who can reach it may use every agent)",
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_HOST_OVERRIDE: Final = "AGENT_BRIDGE_SERVE_HOST"  # --host, handed to worker processes
_LOG_ENV: Final = "AGENT_BRIDGE_WORKER_LOGGING"  # "<level> <format>", handed to worker processes


def with_host(config: BridgeConfig, host: str | None, port: int | None = None) -> BridgeConfig:
    """The configuration with the command line's --host/--port over the file's server.host/port."""
    updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if not updates:
        return config
    return config.model_copy(update={"server": config.server.model_copy(update=updates)})


def effective_config(args: argparse.Namespace) -> BridgeConfig:
    return _config_and_node(args)[0]


def _config_and_node(args: argparse.Namespace) -> tuple[BridgeConfig, Source]:
    """The settings serve runs with (a replica's node id made from its host name when it names none),
    and where the node id came from."""
    config, node = with_node_id(with_host(load(args.config), args.host, args.port))
    if (
        not config.tokens
        and not config.oauth.enabled
        and not is_loopback(config.server.host)
        and not args.insecure_no_auth
    ):
        raise ConfigError(
            f"refusing to listen on {config.server.host} with no [[tokens]] configured: anyone who can reach it "
            "could use every agent. Add a token (agent-bridge token new), bind 127.0.0.1, or pass "
            "--insecure-no-auth if a trusted network in front of it does the authentication."
        )
    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: use 1 or more worker processes")
    if args.workers > 1 and not config.server.stateless:
        raise ConfigError("--workers > 1 needs server.stateless = true: sessions live in one process")
    return config, node


def _log_node(config: BridgeConfig, source: Source) -> None:
    node = config.server.node_id
    if source == "configured":
        logger.info("replica node id %s (configured): SSE message paths name it, /messages/%s/", node, node)
    elif source == "generated":
        logger.info(
            "replica node id %s (from the host name; set server.node_id or %s to choose one): SSE message "
            "paths name it, /messages/%s/, and the balancer must route those to this replica",
            node,
            NODE_ID_ENV,
            node,
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: the event loop turns Nagle's algorithm off (TCP_NODELAY) only on sockets that say
    # they are TCP, and with it on a kept-alive client waits ~40 ms for each small response. Set on the
    # listening socket too, which Linux passes on to the connections it accepts.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None
    sock.set_inheritable(True)
    return sock


def _exit_cleanly(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)


def keep_alive_seconds(config: BridgeConfig) -> int:
    """uvicorn's keep-alive timeout, whole seconds: the request-head deadline (which closes an idle
    connection at that time anyway), so an idle connection lives 10 s by default. Keep
    header_timeout_seconds above 5: common clients reuse an idle connection for up to 5 s."""
    return math.ceil(config.server.header_timeout_seconds)


def grace_seconds(config: BridgeConfig) -> int:
    """uvicorn's graceful-shutdown timeout: whole seconds, rounded up; 0 cancels what is running at once
    (uvicorn reads `None`, not 0, as "wait forever")."""
    return math.ceil(config.server.shutdown_grace_seconds)


def run(args: argparse.Namespace) -> int:
    config, node_source = _config_and_node(args)
    _log_node(config, node_source)
    # sse-starlette (under the SDK's Streamable HTTP event streams; HTTP+SSE streams are the bridge's
    # own, sse_stream) cuts every event stream the moment SIGTERM arrives, which would drop the answer
    # of a call still streaming on its stream. Let uvicorn's graceful shutdown (bounded by
    # server.shutdown_grace_seconds) wait for those responses instead; the app ends idle SSE streams
    # at once itself (sse_transport), so they do not hold the shutdown.
    AppStatus.disable_automatic_graceful_drain()
    # A SIGTERM is a request to stop: exit 0, whether it arrives before uvicorn takes over the signal
    # or is re-raised by uvicorn once its graceful shutdown is done.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    sock = _bind(config.server.host, config.server.port)
    sock.listen(2048)  # accept (queue) connections from the moment the ready line is printed
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    ready_line = f"agent-bridge serving on http://{shown}:{port}"

    def announce() -> None:  # once the agents are known: the line means the bridge can answer calls
        print(ready_line, flush=True)

    def reread() -> BridgeConfig:  # SIGHUP: the same file (or environment) and command line, read again
        return effective_config(args)

    uvicorn_config = uvicorn.Config(
        create_app(config, on_ready=announce, reload=reread)
        if args.workers == 1
        else "mcp_server.commands.serve:worker_app",
        factory=args.workers > 1,
        workers=args.workers,
        # Never uvicorn's "trace", which logs each ASGI scope with its ?token= query string.
        log_level=args.log_level if getattr(args, "log_level", None) in ("debug", "info", "error") else "warning",
        access_log=False,  # an access log would record ?token= query strings
        # JSON logs: uvicorn's own loggers write through the root logger's JSON handler, not its text config.
        log_config=None if getattr(args, "log_format", "text") == "json" else LOGGING_CONFIG,
        timeout_graceful_shutdown=grace_seconds(config),
        # Slow clients: each request head must arrive within server.header_timeout_seconds (uvicorn's
        # keep-alive timer is cancelled by the first trickled byte, so it cannot do this) ...
        http=head_timeout_protocol(config.server.header_timeout_seconds),
        # An idle keep-alive connection is closed after the same time (10 s by default), not uvicorn's
        # 5 s: that equals httpx's keepalive_expiry (the MCP Python SDK's client), so a client would now
        # and then send a request on a connection the bridge was closing that instant and read an error
        # (a lost SSE message POST). Clients stop reusing an idle connection sooner than the bridge drops it.
        timeout_keep_alive=keep_alive_seconds(config),
        # ... and at most server.max_connections connections get a request served; uvicorn counts the
        # requesting connection itself against limit_concurrency, hence the + 1.
        limit_concurrency=config.server.max_connections + 1,
    )
    if args.workers > 1:  # each worker loads the same settings, and needs the bind host for its Host checks
        if args.config is not None:
            os.environ["AGENT_BRIDGE_CONFIG"] = str(args.config)
        os.environ[_HOST_OVERRIDE] = config.server.host
        if config.server.node_id is not None:  # every worker is the same replica, whatever its host name
            os.environ[NODE_ID_ENV] = config.server.node_id
        os.environ[_LOG_ENV] = f"{getattr(args, 'log_level', 'warning')} {getattr(args, 'log_format', 'text')}"
    if args.pid_file is not None:
        args.pid_file.write_text(f"{os.getpid()}\n")
    try:
        return _serve(args, config, uvicorn_config, sock, announce)
    finally:
        if args.pid_file is not None:
            args.pid_file.unlink(missing_ok=True)


def _serve(
    args: argparse.Namespace,
    config: BridgeConfig,
    uvicorn_config: uvicorn.Config,
    sock: socket.socket,
    announce: Callable[[], None],
) -> int:
    if args.workers == 1:
        with serving_metrics(config, None):
            uvicorn.Server(uvicorn_config).run(sockets=[sock])
        return 0
    # SSE across workers: each worker listens on its own Unix socket in this private directory, and
    # relays a message POST for another worker's stream there (worker_relay.py).
    sockets_dir = tempfile.mkdtemp(prefix="agent-bridge-workers-")
    os.environ[SOCKETS_DIR_ENV] = sockets_dir
    # Metrics across workers: each (spawned) worker's prometheus_client writes its samples into this
    # private directory, and whichever worker answers /metrics sums them all.
    metrics_dir = tempfile.mkdtemp(prefix="agent-bridge-metrics-")
    os.environ[MULTIPROC_DIR_ENV] = metrics_dir
    announce()  # workers answer /readyz 503 until their own agents are known
    try:
        with serving_metrics(config, metrics_dir):
            Multiprocess(uvicorn_config, sockets=[sock]).run()
    finally:
        shutil.rmtree(sockets_dir, ignore_errors=True)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def worker_app() -> Starlette:
    """The app factory each worker process calls (`--workers N`); the socket is already bound."""
    AppStatus.disable_automatic_graceful_drain()  # as in `run`: a fresh process, sse-starlette's default again
    level, _, log_format = os.environ.get(_LOG_ENV, "warning text").partition(" ")
    setup_logging(level, log_format or "text")  # a spawned worker starts with no logging set up
    return create_app(with_host(load(None), os.environ.get(_HOST_OVERRIDE)), WorkerRelay.from_environment())
