"""`agent-bridge reload`: ask a running `agent-bridge serve` to read its configuration again (SIGHUP).

The bridge validates the new configuration first; if it cannot be used, it logs why and keeps
serving the old one. Sessions and calls in flight are not dropped. With `--workers N`, send it to the
supervisor: uvicorn's supervisor restarts the (stateless) workers, which read the configuration anew.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from mcp_server.errors import BridgeError, ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--pid-file", type=Path, help="the file `agent-bridge serve --pid-file` wrote")
    which.add_argument("--pid", type=int, help="the process id of `agent-bridge serve`")


def _pid(args: argparse.Namespace) -> int:
    if args.pid is not None:
        return int(args.pid)
    path: Path = args.pid_file
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such pid file; is `agent-bridge serve --pid-file {path}` running?") from None
    if not text.isdigit():
        raise ConfigError(f"{path}: does not hold a process id; pass the file `agent-bridge serve --pid-file` wrote")
    return int(text)


def run(args: argparse.Namespace) -> int:
    pid = _pid(args)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise BridgeError(f"no process {pid}; is the bridge running?") from None
    except PermissionError:
        raise BridgeError(f"not allowed to signal process {pid}; run as the user that runs the bridge") from None
    print(f"asked agent-bridge (pid {pid}) to reload its configuration; its log says whether it took it")
    return 0
