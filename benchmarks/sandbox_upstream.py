"""The sandbox upstream's app (mcp_server.sandbox) served by uvicorn on a socket it binds itself.

    python benchmarks/sandbox_upstream.py PORT CORPUS [--drip SECONDS] [--stamp]

Why not `agent-bridge sandbox`: its CLI binds its listening socket as `socket.socket(AF_INET)`, whose
`proto` is 0, and asyncio only sets TCP_NODELAY on connections whose socket says IPPROTO_TCP. Without
it, every response after the first on a kept-alive connection waits ~40 ms for a delayed ACK (Nagle),
so the upstream did not "answer at once" as the benchmark needs. uvicorn's own binding (host and port)
goes through getaddrinfo, whose sockets do say IPPROTO_TCP. Prints `sandbox ready on URL`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from mcp_server.sandbox.app import SandboxSettings, create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--drip", type=float, default=0.0)
    parser.add_argument("--stamp", action="store_true", help="each streamed piece starts with its send time")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    app = create_app(SandboxSettings(corpora=(args.corpus,), drip=args.drip, stamp=args.stamp))
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    print(f"sandbox ready on http://127.0.0.1:{args.port}", flush=True)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
