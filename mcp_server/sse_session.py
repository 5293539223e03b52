"""The MCP server session of one HTTP+SSE stream: the SDK's `Server.run`, without its relay per session.

`Server.run` enters the server's lifespan and drives `serve_dual_era_loop`, which lets the client's
first request decide the connection's protocol era: the `initialize` handshake (or any request without
the 2026-07-28 `_meta` envelope) opens a 2025-era connection, an enveloped request a modern one. To
look at that request without consuming it, the SDK puts a task, a task group and a memory stream
between the transport and the dispatcher for the whole life of the session, and keeps the first
request (with the POST it came in) alive as long: ~10 KiB per idle SSE session.

Here the stream's reader looks itself (`SessionReader.first_request`, which keeps what came first and
hands it to the dispatcher again). A 2025-era connection, which is what every HTTP+SSE client opens,
is served by the SDK's own recipe for it (`_serve_legacy_stream` in `mcp.server.runner`) rebuilt from
its public parts: a JSON-RPC dispatcher that handles `initialize` inline, a `ServerRunner`, and the
refusal of enveloped requests. A connection that opens with the envelope goes to `serve_dual_era_loop`
itself, which replays what the reader kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.runner import ServerRunner, aclose_shielded, serve_dual_era_loop
from mcp.shared.dispatcher import DispatchContext
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.transport_context import TransportContext
from mcp_types import INVALID_REQUEST, PROTOCOL_VERSION_META_KEY

from mcp_server.sse_stream import SessionReader, SessionWriter

# The SDK's words (`_serve_legacy_stream`) for an enveloped request on a 2025-era connection.
_ENVELOPE_ON_HANDSHAKE_ERA: Final = (
    "this connection serves the handshake protocol era; requests carrying the 2026-07-28 envelope are not "
    "accepted on it"
)


def has_modern_envelope(params: Mapping[str, Any] | None) -> bool:
    """Whether `params._meta` carries the 2026-07-28 protocol-version key (the SDK's own test)."""
    meta = (params or {}).get("_meta")
    return isinstance(meta, Mapping) and PROTOCOL_VERSION_META_KEY in meta


async def run_session(server: Server[Any], reader: SessionReader, writer: SessionWriter) -> None:
    """Serve the client's messages from `reader` until its input ends; answers go to `writer`.

    No initialization options are passed: the SDK then builds them from the server when `initialize`
    comes, as `create_initialization_options()` would have, instead of keeping them for the session."""
    try:
        async with server.lifespan(server) as lifespan_state:
            opening = await reader.first_request()
            if opening is not None and opening.method != "initialize" and has_modern_envelope(opening.params):
                await serve_dual_era_loop(server, reader, writer, lifespan_state=lifespan_state)
            else:
                await _serve_handshake_era(server, reader, writer, lifespan_state)
    finally:
        await writer.aclose()
        await reader.aclose()


async def _serve_handshake_era(
    server: Server[Any], reader: SessionReader, writer: SessionWriter, lifespan_state: Any
) -> None:
    dispatcher = JSONRPCDispatcher[TransportContext](
        reader,
        writer,
        # As the SDK does: `initialize` inline, so a client that sends the next request at once finds the
        # session initialized.
        inline_methods=frozenset({"initialize"}),
    )
    connection = Connection.for_loop(dispatcher)
    runner = ServerRunner(server, connection, lifespan_state)

    async def on_request(
        context: DispatchContext[TransportContext], method: str, params: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if method != "initialize" and has_modern_envelope(params):
            raise MCPError(code=INVALID_REQUEST, message=_ENVELOPE_ON_HANDSHAKE_ERA)
        return await runner.on_request(context, method, params)

    try:
        await dispatcher.run(on_request, runner.on_notify)
    finally:
        await aclose_shielded(connection)
