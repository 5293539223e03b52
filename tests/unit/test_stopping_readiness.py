"""`/readyz` during a rolling restart: 503 from the moment shutdown begins (SIGTERM calls
`close_idle_streams`), so a balancer sends no new work while the calls in flight finish."""

from __future__ import annotations

import json

import pytest
from starlette.requests import Request

from mcp_server.config_loading import parse_config, with_replica_environment
from mcp_server.errors import ConfigError
from mcp_server.http_app import BridgeApp

pytestmark = pytest.mark.anyio


def _request(path: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""})


async def test_readyz_turns_503_as_soon_as_shutdown_begins() -> None:
    app = BridgeApp(parse_config({"server": {"node_id": "bridge-7"}}, source="test"))
    assert (await app.operators.readyz(_request("/readyz"))).status_code == 503  # no agents yet: starting
    app.sse.close_idle_streams()  # what the SIGTERM handler does
    stopping = await app.operators.readyz(_request("/readyz"))
    assert stopping.status_code == 503 and json.loads(bytes(stopping.body)) == {"status": "stopping"}
    health = await app.operators.healthz(_request("/healthz"))
    assert json.loads(bytes(health.body)) == {"status": "ok", "replica": "bridge-7"}


def test_the_environment_names_the_store_and_the_node() -> None:
    config = with_replica_environment(
        parse_config({}, source="test"),
        {"AGENT_BRIDGE_STORE_URL": "redis://valkey:6379/0", "AGENT_BRIDGE_NODE_ID": "bridge-2"},
    )
    assert config.store.url is not None and config.store.url.get_secret_value() == "redis://valkey:6379/0"
    assert config.server.node_id == "bridge-2"
    with pytest.raises(ConfigError, match=r"store\.url: must be a redis://"):
        with_replica_environment(parse_config({}, source="test"), {"AGENT_BRIDGE_STORE_URL": "http://valkey"})
    with pytest.raises(ConfigError, match=r"server\.node_id"):
        with_replica_environment(parse_config({}, source="test"), {"AGENT_BRIDGE_NODE_ID": "Bridge 2!"})
