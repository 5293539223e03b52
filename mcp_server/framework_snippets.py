"""Python snippets for the agent frameworks that are MCP clients too, each avoiding its framework's trap:
the OpenAI Agents SDK gives up on a call after 5 s unless told otherwise, LangChain's adapters open a new
session per tool call unless one is kept, PydanticAI 2.x names its client `MCPToolset`, and every snippet
allows the minutes an agent's answer may take. Each snippet asks the bridge's `ask` tool the question
given on its command line and prints the answer; the comments say how to hand the tools to an agent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # client_snippets lists these snippets among its clients
    from mcp_server.snippet_targets import Served

ANSWER_SECONDS: Final = 300  # how long a call may take: an agent's answer can take minutes

_COMMON = """import asyncio
import os
import sys

"""
_MAIN = '''

def tool_named(names: list[str], wanted: str = "ask") -> str:
    """`ask` on an agent's endpoint; `<agent>_ask` on an endpoint serving several agents."""
    return next(n for n in names if n == wanted or n.endswith("_" + wanted))


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "What can you help me with?"))
'''


def _headers(target: Served) -> str:
    """The headers as a Python expression: the token as given, or read from the environment."""
    if target.token is None:
        return "{}"
    if target.token.value is not None:
        return json.dumps({"Authorization": f"Bearer {target.token.value}"})
    return f'{{"Authorization": "Bearer " + os.environ["{target.token.env}"]}}'


def openai_agents(target: Served) -> str:
    server = "MCPServerStreamableHttp" if target.transport == "http" else "MCPServerSse"
    return f'''"""Agent Bridge from the OpenAI Agents SDK (pip install "openai-agents>=0.24")."""

{_COMMON}from agents.mcp import {server}

URL = {json.dumps(target.url)}


async def main(question: str) -> None:
    async with {server}(
        name="agent-bridge",
        params={{"url": URL, "headers": {_headers(target)}, "timeout": 30, "sse_read_timeout": {ANSWER_SECONDS}}},
        client_session_timeout_seconds={ANSWER_SECONDS},  # the default, 5 s, gives up on an agent's answer
        cache_tools_list=True,
    ) as bridge:
        # For an agent: Agent(name="Assistant", instructions="...", mcp_servers=[bridge])
        names = [t.name for t in await bridge.list_tools()]
        result = await bridge.call_tool(tool_named(names), {{"question": question}})
        print(result.content[0].text)
{_MAIN}'''


def langchain(target: Served) -> str:
    if target.transport == "http":
        connection = (
            f'{{"transport": "streamable_http", "url": URL, "headers": {_headers(target)}, '
            f'"timeout": timedelta(seconds=30), "sse_read_timeout": timedelta(seconds={ANSWER_SECONDS})}}'
        )
    else:
        connection = (
            f'{{"transport": "sse", "url": URL, "headers": {_headers(target)}, '
            f'"timeout": 30, "sse_read_timeout": {ANSWER_SECONDS}}}'
        )
    return f'''"""Agent Bridge from LangChain / LangGraph (pip install "langchain-mcp-adapters>=0.3")."""

{_COMMON}from datetime import timedelta

from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.tools import load_mcp_tools

URL = {json.dumps(target.url)}
client = MultiServerMCPClient({{"agent-bridge": {connection}}})


async def main(question: str) -> None:
    # One kept session for every call: client.get_tools() would open a new session per tool call.
    async with client.session("agent-bridge") as session:
        tools = await load_mcp_tools(session)  # for an agent: create_react_agent(model, tools)
        ask = next(t for t in tools if t.name == tool_named([t.name for t in tools]))
        print(await ask.ainvoke({{"question": question}}))
{_MAIN}'''


def pydantic_ai(target: Served) -> str:
    return f'''"""Agent Bridge from PydanticAI 2.x (pip install "pydantic-ai-slim[mcp]>=2.60")."""

{_COMMON}from pydantic_ai.mcp import MCPToolset  # 2.x: MCPServerStreamableHTTP and MCPServerSSE are gone

URL = {json.dumps(target.url)}
toolset = MCPToolset(URL, headers={_headers(target)}, read_timeout={ANSWER_SECONDS})


async def main(question: str) -> None:
    async with toolset:  # one session for every call; for an agent: Agent(model, toolsets=[toolset])
        names = [t.name for t in await toolset.list_tools()]
        print(await toolset.direct_call_tool(tool_named(names), {{"question": question}}))
{_MAIN}'''


def llama_index(target: Served) -> str:
    return f'''"""Agent Bridge from LlamaIndex (pip install "llama-index-tools-mcp>=0.6")."""

{_COMMON}from llama_index.tools.mcp import BasicMCPClient, McpToolSpec

URL = {json.dumps(target.url)}  # a URL ending in /sse is reached over HTTP+SSE
client = BasicMCPClient(URL, headers={_headers(target)}, timeout=30, sse_read_timeout={ANSWER_SECONDS})


async def main(question: str) -> None:
    tools = await McpToolSpec(client).to_tool_list_async()  # for an agent: FunctionAgent(tools=tools, ...)
    result = await client.call_tool(tool_named([t.metadata.name for t in tools]), {{"question": question}})
    print(result.content[0].text)
{_MAIN}'''


def fastmcp(target: Served) -> str:
    transport = "StreamableHttpTransport" if target.transport == "http" else "SSETransport"
    return f'''"""Agent Bridge from the FastMCP client (pip install "fastmcp>=2.10")."""

{_COMMON}from fastmcp import Client
from fastmcp.client.transports import {transport}

URL = {json.dumps(target.url)}
client = Client({transport}(URL, headers={_headers(target)}), timeout={ANSWER_SECONDS})


async def main(question: str) -> None:
    async with client:  # one session for every call
        names = [t.name for t in await client.list_tools()]
        result = await client.call_tool(tool_named(names), {{"question": question}})
        print(result.content[0].text)
{_MAIN}'''


FRAMEWORKS: Final[dict[str, tuple[str, Callable[[Served], str]]]] = {
    "openai-agents": ("OpenAI Agents SDK (Python)", openai_agents),
    "langchain": ("LangChain / LangGraph (langchain-mcp-adapters)", langchain),
    "pydantic-ai": ("PydanticAI 2.x (MCPToolset)", pydantic_ai),
    "llama-index": ("LlamaIndex (llama-index-tools-mcp)", llama_index),
    "fastmcp": ("FastMCP client (Python)", fastmcp),
}
