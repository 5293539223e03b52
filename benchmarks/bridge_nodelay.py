"""What if `agent-bridge serve` set TCP_NODELAY on its connections? A what-if row for the benchmarks.

    python benchmarks/bridge_nodelay.py serve --config CONFIG --port 0

`mcp_server/commands/serve.py` binds its listening socket as `socket.socket(family, SOCK_STREAM)`, so
the socket's `proto` is 0; asyncio sets TCP_NODELAY only on connections whose socket says IPPROTO_TCP
(`asyncio.base_events._set_nodelay`), so the bridge's connections keep Nagle's algorithm. A response
written in more than one piece (an SSE answer: headers, then events) then waits for the client's
delayed ACK, ~40 ms, on every request after the first on a kept-alive connection. This runs the same
`agent-bridge` with one change: the listening socket re-wrapped from its file descriptor, which makes
Python read the real protocol (IPPROTO_TCP) from the kernel. Delete this file once serve.py binds with
IPPROTO_TCP itself (then the two rows are the same).
"""

from __future__ import annotations

import socket
import sys

from mcp_server import cli
from mcp_server.commands import serve

_bind = serve._bind  # pyright: ignore[reportPrivateUsage]


def _bind_tcp(host: str, port: int) -> socket.socket:
    sock = socket.socket(fileno=_bind(host, port).detach())  # proto read back from the kernel: IPPROTO_TCP
    sock.set_inheritable(True)
    return sock


if __name__ == "__main__":
    serve._bind = _bind_tcp  # pyright: ignore[reportPrivateUsage]
    sys.exit(cli.main(sys.argv[1:]))
