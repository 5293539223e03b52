"""The rate counter and the built-in OAuth server's grants in a real Valkey: replicas count the same
calls and agree on grants; a code is taken once even when two replicas race for it; a store that is
down lets calls through rather than take the bridge down."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
import redis

from mcp_server.errors import StoreUnavailableError
from mcp_server.store import SharedOAuthGrantStore, SharedRateCounter, SharedStore
from tests.oauth.browser import form_fields
from tests.support.bridge_http import TOKENS, running_bridge, write_http_config
from tests.support.engines import ValkeyProcess
from tests.support.sandbox_process import SandboxProcess, free_port

pytestmark = pytest.mark.anyio

JSONRPC = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def _text(key: object) -> str:
    return str(key, "utf-8") if isinstance(key, bytes) else str(key)


async def test_replicas_share_one_count_and_its_window(valkey: ValkeyProcess) -> None:
    one, two = SharedStore(valkey.url), SharedStore(valkey.url)
    try:
        first, second = SharedRateCounter(one), SharedRateCounter(two)
        assert await first.hit("rate:token:alice", limit=3, window_seconds=60) is None
        assert await second.hit("rate:token:alice", limit=3, window_seconds=60) is None
        assert await first.hit("rate:token:alice", limit=3, window_seconds=60) is None
        wait = await second.hit("rate:token:alice", limit=3, window_seconds=60)
        assert wait is not None and 0 < wait <= 60
        assert await first.hit("rate:token:bob", limit=3, window_seconds=60) is None  # its own count
        # a short window: full, then free again once it has passed; the key expires with it
        assert await first.hit("rate:short", limit=1, window_seconds=0.3) is None
        assert await second.hit("rate:short", limit=1, window_seconds=0.3) is not None
        await anyio.sleep(0.4)
        assert await second.hit("rate:short", limit=1, window_seconds=0.3) is None
        with redis.Redis(port=valkey.port) as client:
            stored = [_text(k) for k in client.keys("agent-bridge:rate:*")]
            assert len(stored) == 3 and not any("alice" in k for k in stored)
            assert all(0 < int(client.pttl(k)) <= 60_000 for k in stored)
    finally:
        await one.aclose()
        await two.aclose()


async def test_concurrent_hits_never_exceed_the_limit(valkey: ValkeyProcess) -> None:
    store = SharedStore(valkey.url)
    results: list[float | None] = []
    try:
        counter = SharedRateCounter(store)

        async def hit() -> None:
            results.append(await counter.hit("rate:race", limit=5, window_seconds=60))

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(hit)
        assert sum(r is None for r in results) == 5
    finally:
        await store.aclose()


async def test_a_store_that_is_down_lets_calls_through(valkey: ValkeyProcess, caplog: pytest.LogCaptureFixture) -> None:
    store = SharedStore(valkey.url)
    try:
        valkey.stop()
        counter = SharedRateCounter(store)
        with caplog.at_level(logging.WARNING, logger="mcp_server.store.shared_counters"):
            for _ in range(3):
                assert await counter.hit("rate:token:alice", limit=1, window_seconds=60) is None
        warnings = [r.getMessage() for r in caplog.records if r.name == "mcp_server.store.shared_counters"]
        assert len(warnings) == 1 and "rate limits are not enforced for now" in warnings[0]  # once a minute
    finally:
        await store.aclose()


async def test_grants_are_shared_taken_once_and_expire(valkey: ValkeyProcess) -> None:
    one, two = SharedStore(valkey.url), SharedStore(valkey.url)
    try:
        first, second = SharedOAuthGrantStore(one), SharedOAuthGrantStore(two)
        await first.put("client", "client-1", '{"client_id":"client-1"}', None)
        assert await second.get("client", "client-1") == '{"client_id":"client-1"}'
        assert await second.get("code", "client-1") is None  # kinds do not mix
        await first.put("code", "c0de", '{"grant":1}', 60)
        taken: list[str | None] = []

        async def take(grants: SharedOAuthGrantStore) -> None:
            taken.append(await grants.take("code", "c0de"))

        async with anyio.create_task_group() as group:
            for grants in (first, second) * 5:
                group.start_soon(take, grants)
        assert taken.count('{"grant":1}') == 1 and taken.count(None) == 9
        assert await first.get("code", "c0de") is None
        await first.put("ticket", "t1", "{}", 0.2)
        assert await second.get("ticket", "t1") == "{}"
        await anyio.sleep(0.3)
        assert await second.get("ticket", "t1") is None
        kept = await first.first("signing-key", "current", "key-one")
        assert kept == "key-one" and await second.first("signing-key", "current", "key-two") == "key-one"
        with redis.Redis(port=valkey.port) as client:
            stored = [_text(k) for k in client.keys("*")]
            assert all(k.startswith("agent-bridge:oauth-") for k in stored)
            assert not any("client-1" in k for k in stored)
        valkey.stop()
        with pytest.raises(StoreUnavailableError, match="did not answer"):
            await first.get("client", "client-1")
    finally:
        await one.aclose()
        await two.aclose()


def test_two_bridges_on_one_valkey_share_a_token_rate_limit(
    tmp_path: Path, sandbox: SandboxProcess, valkey: ValkeyProcess
) -> None:
    config = write_http_config(
        tmp_path / "bridge.toml",
        sandbox.url,
        protection=True,
        extra_server=['rate_limit = "3/minute"'],
        extra_tables=["[actions]", "enabled = true", "[store]", f'url = "{valkey.url}"'],
    )
    with running_bridge(config) as one, running_bridge(config) as two:
        codes = [
            httpx2.get(f"{bridge.url}/actions/support/sources", headers=bridge.auth(), timeout=30).status_code
            for bridge in (one, two, one, two)
        ]
    assert codes == [200, 200, 200, 429]


async def test_a_sign_in_on_one_bridge_is_redeemed_and_used_on_another(
    tmp_path: Path, sandbox: SandboxProcess, valkey: ValkeyProcess
) -> None:
    """Registration, sign-in and consent on one replica; the code redeemed on the other (once); the
    access token it signs verified by the first (one signing key)."""
    port = free_port()
    config = write_http_config(
        tmp_path / "bridge.toml",
        sandbox.url,
        extra_server=[f'public_url = "http://127.0.0.1:{port}"'],
        extra_tables=["[oauth]", "built_in = true", "[store]", f'url = "{valkey.url}"'],
    )
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:1/callback"
    with running_bridge(config, "--port", str(port)) as one, running_bridge(config) as two:
        async with httpx2.AsyncClient(timeout=20) as http:
            registered = await http.post(
                f"{one.url}/register",
                json={"redirect_uris": [redirect], "client_name": "hand", "token_endpoint_auth_method": "none"},
            )
            client_id = registered.json()["client_id"]
            sent = await http.get(
                f"{one.url}/authorize",
                params={
                    "response_type": "code",
                    "client_id": client_id,
                    "redirect_uri": redirect,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "state": "s1",
                    "scope": "agent:*",
                },
            )
            request_id = parse_qs(urlsplit(sent.headers["location"]).query)["request"][0]
            page = await http.post(f"{one.url}/oauth/sign-in", data={"request": request_id, "token": TOKENS["all"][0]})
            consent = form_fields(page.text).inputs
            back = await http.post(f"{one.url}/oauth/consent", data={**consent, "decision": "allow"})
            code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "client_id": client_id,
                "code_verifier": verifier,
            }
            issued = await http.post(f"{two.url}/token", data=form)
            replay = await http.post(f"{one.url}/token", data=form)
            assert issued.status_code == 200, issued.text
            listed = await http.post(
                f"{one.url}/mcp",
                headers={**JSONRPC, "Authorization": f"Bearer {issued.json()['access_token']}"},
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            )
    assert replay.status_code == 400  # the code was taken on the other replica
    assert listed.status_code == 200 and '"name":"support_ask"' in listed.text, listed.text
