"""An issuer that rotates its signing key: the bridge fetches the key set again once when a token
names a key id it does not hold, and not again for the next made-up id within a minute."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx2

from tests.oauth.identity_provider import new_key, running_identity_provider
from tests.support.bridge_http import running_bridge_logging_to, write_http_config
from tests.support.node import NODE_MARKS
from tests.support.sandbox_process import SandboxProcess, free_port

pytestmark = NODE_MARKS

PUBLIC_URL = "https://bridge.example.com"  # the audience; the test reaches the bridge on loopback
JSONRPC = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


SENT: list[str] = []


def _status(url: str, token: str) -> int:
    SENT.append(token)
    with httpx2.Client(timeout=20) as http:
        return http.post(url, json=TOOLS_LIST, headers={**JSONRPC, "Authorization": f"Bearer {token}"}).status_code


def _key_set_fetches(log: Path) -> int:
    time.sleep(0.2)  # the bridge process writes its log line after answering
    return log.read_text().count("signing key(s)")


def test_a_rotated_key_is_fetched_once(sandbox_session: SandboxProcess, tmp_path: Path) -> None:
    idp_port = free_port()
    old, new = ("old-key", new_key()), ("new-key", new_key())
    with ExitStack() as first_issuer:
        idp = first_issuer.enter_context(running_identity_provider(tmp_path, port=idp_port, keys=[old]))
        config = write_http_config(
            tmp_path / "bridge.toml",
            sandbox_session.url,
            extra_server=[f'public_url = "{PUBLIC_URL}"'],
            extra_tables=["[oauth]", f'issuer = "{idp.issuer}"'],
        )
        log = tmp_path / "bridge.log"
        with running_bridge_logging_to(config, log, level="debug") as bridge:
            mcp = f"{bridge.url}/mcp"
            assert _status(mcp, idp.forge({"aud": PUBLIC_URL})) == 200
            assert _key_set_fetches(log) == 1
            first_issuer.close()  # the issuer restarts at the same address, signing with a new key
            with running_identity_provider(tmp_path, port=idp_port, keys=[new, old]) as rotated:
                assert _status(mcp, rotated.forge({"aud": PUBLIC_URL})) == 200
                assert _key_set_fetches(log) == 2
                assert _status(mcp, idp.forge({"aud": PUBLIC_URL})) == 200  # the old key: still cached
                assert _status(mcp, rotated.forge({"aud": PUBLIC_URL}, kid="made-up")) == 401
                assert _status(mcp, rotated.forge({"aud": PUBLIC_URL}, kid="made-up-2")) == 401
                assert _key_set_fetches(log) == 2  # no refetch within a minute of the last one
    logged = log.read_text()
    assert SENT and not any(token.split(".")[2] in logged for token in SENT)  # no token reaches the log
