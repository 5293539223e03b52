"""One store client per process: a bridge whose rate limits (the HTTP app) and conversations (the agents)
both live in a real Valkey reaches it over one client, so calls made one after another use one
connection, not one per part of the bridge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import TOKENS, running_bridge, write_http_config
from tests.support.engines import ValkeyProcess
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"Bearer {TOKENS['all'][0]}"}


def store_clients(valkey: ValkeyProcess) -> tuple[list[str], list[str]]:
    """The other clients connected to `valkey` (one line each), and the kinds of keys it holds."""
    with redis.Redis(port=valkey.port, decode_responses=True) as client:
        me = int(client.client_id())
        others = [str(c) for c in client.client_list() if int(c["id"]) != me]
        kinds = sorted({str(k).split(":")[1] for k in client.keys("agent-bridge:*")})
    return others, kinds


async def test_rate_limits_and_conversations_share_one_connection(
    sandbox: SandboxProcess, valkey: ValkeyProcess, tmp_path: Path
) -> None:
    chat = [
        "[backends.compat]",
        'kind = "openai"',
        'api_key = "sandbox-key"',
        f"base_url = '{sandbox.url}/api/v1/projects/1'",
        "[[agents]]",
        'name = "chat"',
        'backend = "compat"',
        'model = "gpt-4o"',
    ]
    config = write_http_config(
        tmp_path / "bridge.toml",
        sandbox.url,
        protection=True,
        extra_server=['rate_limit = "1000/minute"'],  # counted in the store, by the HTTP app
        extra_tables=[*chat, "[store]", f'url = "{valkey.url}"'],
    )
    with running_bridge(config) as bridge:
        async with (
            httpx2.AsyncClient(headers=AUTH, timeout=30) as http,
            Client(streamable_http_client(f"{bridge.url}/agents/chat/mcp", http_client=http)) as client,
        ):
            first = await client.call_tool("ask", {"question": "How long are backups kept on the Pro plan?"})
            assert not first.is_error, first.content
            found: Any = first.structured_content
            conversation = found["conversation_id"]
            for question in ("And on the Free plan?", "Thanks; anything else?"):
                more = await client.call_tool("ask", {"question": question, "conversation_id": conversation})
                assert not more.is_error, more.content
        others, kinds = store_clients(valkey)
    assert {"conversation", "rate"} <= set(kinds), kinds  # both parts of the bridge used the store
    assert len(others) == 1, others  # ... over one client: one connection for calls made one at a time
