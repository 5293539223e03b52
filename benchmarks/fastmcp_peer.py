"""The FastMCP peer: `FastMCP.from_openapi` over the CustomGPT OpenAPI spec, as a team would run it with
no code of its own. Runs under the FastMCP environment that benchmarks/fastmcp_env.py builds, not ours.

    FASTMCP_PYTHON benchmarks/fastmcp_peer.py SPEC UPSTREAM_URL PORT [--no-validate-output] [--transport sse]
        [--stateful]

Prints `peer serving on http://127.0.0.1:PORT` when ready; the MCP endpoint is `/mcp` (Streamable HTTP) or
`/sse` (HTTP+SSE). Requests to the upstream carry the sandbox's key, as the team's deployment would.
"""

# FastMCP is installed in the peer's own environment only, so our type checker cannot see it.
# pyright: reportMissingImports=false, reportUnknownVariableType=false, reportUnknownMemberType=false
# pyright: reportUnknownArgumentType=false, reportAttributeAccessIssue=false

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any


def main() -> None:
    import httpx2
    import uvicorn
    from fastmcp import FastMCP

    parser = argparse.ArgumentParser()
    parser.add_argument("spec", type=Path)
    parser.add_argument("upstream")
    parser.add_argument("port", type=int)
    parser.add_argument("--no-validate-output", action="store_true")
    parser.add_argument("--transport", choices=["http", "sse"], default="http")
    parser.add_argument("--stateful", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    spec: dict[str, Any] = json.loads(args.spec.read_text())
    client = httpx2.AsyncClient(
        base_url=args.upstream,
        headers={"Authorization": "Bearer sandbox-key"},
        timeout=30,
        limits=httpx2.Limits(keepalive_expiry=4.0),  # below the upstream's 5 s keep-alive, as DESIGN.md asks
    )
    server = FastMCP.from_openapi(spec, client=client, name="customgpt", validate_output=not args.no_validate_output)
    if args.transport == "sse":
        app = server.http_app(transport="sse")
    else:
        app = server.http_app(transport="http", stateless_http=not args.stateful)
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    print(f"peer serving on http://127.0.0.1:{args.port}", flush=True)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
