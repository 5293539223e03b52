"""The requests the benchmarks send: one `tools/call` of `ask` (with a conversation id) per server kind
and protocol, exactly as the MCP Python SDK client sends it, and the upstream request it stands for.

Stateless Streamable HTTP at the two protocols (read from the SDK client's own requests):

* 2025-11-25: a plain JSON-RPC `tools/call` POST with `MCP-Protocol-Version: 2025-11-25`; a stateless
  server needs no `initialize` first.
* 2026-07-28: the same POST plus `Mcp-Method: tools/call` and `Mcp-Name: <tool>` headers, and a
  `_meta` in the params carrying the protocol version, client info and client capabilities
  (`io.modelcontextprotocol/...`); no handshake. (A client in `mode="auto"` sends one
  `server/discover` of the same shape first, once per client; the load repeats only the call.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, cast

import httpx2
from stack import BENCH_PROJECT, QUESTION

PROTOCOLS: Final = ("2025-11-25", "2026-07-28")
UPSTREAM_HEADERS: Final = {"Authorization": "Bearer sandbox-key", "Content-Type": "application/json"}
FASTMCP_TOOL: Final = "Send_a_message_to_a_conversation"  # FastMCP's name for POST .../messages


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request: what a load generator repeats."""

    url: str
    headers: dict[str, str]
    body: bytes


def mcp_headers(protocol: str, tool: str | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": protocol,
    }
    if protocol >= "2026-07-28" and tool is not None:
        headers |= {"Mcp-Method": "tools/call", "Mcp-Name": tool}
    return headers


def tool_call(
    tool: str, arguments: dict[str, Any], protocol: str, *, request_id: int = 1, progress: str | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool, "arguments": arguments}
    meta: dict[str, Any] = {}
    if progress is not None:
        meta["progressToken"] = progress
    if protocol >= "2026-07-28":
        meta |= {
            "io.modelcontextprotocol/protocolVersion": protocol,
            "io.modelcontextprotocol/clientInfo": {"name": "agent-bridge-bench", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def ask_tool_and_arguments(kind: str, conversation: str) -> tuple[str, dict[str, Any]]:
    """The tool each server kind calls `ask` by, and its arguments for QUESTION in `conversation`."""
    if kind == "fastmcp":
        return FASTMCP_TOOL, {"projectId": BENCH_PROJECT, "sessionId": conversation, "prompt": QUESTION}
    return "ask", {"question": QUESTION, "conversation_id": conversation}


def ask_call(kind: str, url: str, conversation: str, protocol: str) -> Call:
    tool, arguments = ask_tool_and_arguments(kind, conversation)
    body = json.dumps(tool_call(tool, arguments, protocol)).encode()
    return Call(url, mcp_headers(protocol, tool), body)


def upstream_call(upstream: str, session: str) -> Call:
    """The message POST that `ask` stands for, sent to the upstream directly."""
    url = f"{upstream}/api/v1/projects/{BENCH_PROJECT}/conversations/{session}/messages"
    return Call(url, UPSTREAM_HEADERS, json.dumps({"prompt": QUESTION}).encode())


def jsonrpc_message(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC response in a Streamable HTTP answer: a JSON body or the last SSE `data:` line."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        messages = [json.loads(d) for d in data if d]
        return next(m for m in reversed(messages) if "id" in m)
    return response.json()


def new_upstream_conversation(upstream: str) -> str:
    response = httpx2.post(
        f"{upstream}/api/v1/projects/{BENCH_PROJECT}/conversations", json={"name": "bench"}, headers=UPSTREAM_HEADERS
    )
    response.raise_for_status()
    return str(response.json()["data"]["session_id"])


def new_bridge_conversation(mcp_url: str) -> str:
    """A conversation id from Agent Bridge: `ask` without one starts a conversation and returns its id."""
    body = tool_call("ask", {"question": QUESTION}, "2025-11-25")
    response = httpx2.post(mcp_url, json=body, headers=mcp_headers("2025-11-25"), timeout=30)
    message = jsonrpc_message(response)
    result: dict[str, Any] = message.get("result") or {}
    if result.get("isError") or "structuredContent" not in result:
        raise RuntimeError(f"agent-bridge did not answer ask: {json.dumps(message)[:500]}")
    return str(result["structuredContent"]["conversation_id"])


def check_answer(call: Call) -> int:
    """Send `call` once and return the answer's size in bytes; raise when it is not a good answer."""
    response = httpx2.post(call.url, content=call.body, headers=call.headers, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"{call.url}: HTTP {response.status_code}: {response.text[:500]}")
    if "/api/v1/" in call.url:
        return len(response.content)
    message = jsonrpc_message(response)
    result = message.get("result")
    if not isinstance(result, dict) or cast("dict[str, Any]", result).get("isError"):
        raise RuntimeError(f"{call.url}: not a result: {json.dumps(message)[:800]}")
    return len(response.content)
