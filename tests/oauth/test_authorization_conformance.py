"""The official conformance suite's authorization scenarios (npm `conformance-next`, 0.2.0-alpha.12, the
`authorization` command) against the built-in authorization server: its RFC 8414 metadata, and the
authorization code grant with PKCE, where the suite prints the authorization URL, the test signs in
there as a person would (pastes a bridge token, allows) and the browser lands on the suite's callback.

The suites' other authorization scenarios (`auth/...`) test an OAuth *client* against the suite's own
mock servers, and neither suite has a server scenario that sends credentials: they do not apply to the
bridge (README "Conformance")."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx2

from tests.oauth.browser import sign_in
from tests.support.bridge_http import TOKENS, BridgeProcess
from tests.support.node import CONFORMANCE, NODE, NODE_DIR, NODE_MARKS, node_env, run_node
from tests.support.sandbox_process import free_port

pytestmark = NODE_MARKS

SUITE = CONFORMANCE["2026-07-28"]


def _statuses(results: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for checks in results.glob("**/checks.json"):
        for check in json.loads(checks.read_text()):
            out.setdefault(check["id"], []).append(check["status"])
    return out


def test_authorization_server_metadata_scenario(bridge: BridgeProcess, tmp_path: Path) -> None:
    results = tmp_path / "results"
    args = [str(SUITE), "authorization", "--url", bridge.url, "--scenario", "authorization-server-metadata-endpoint"]
    done = run_node([*args, "-o", str(results)], tmp_path / "home", timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    statuses = _statuses(results)
    assert statuses and all(s == ["SUCCESS"] for s in statuses.values()), statuses


def test_both_scenarios_with_the_authorization_code_grant(bridge: BridgeProcess, tmp_path: Path) -> None:
    """Every authorization scenario in one run (the grant reads the metadata scenario's result)."""
    port = free_port()
    callback = f"http://127.0.0.1:{port}/callback"
    registered = httpx2.post(
        f"{bridge.url}/register",
        json={"redirect_uris": [callback], "client_name": "conformance", "token_endpoint_auth_method": "none"},
        timeout=20,
    )
    assert registered.status_code == 201, registered.text
    results = tmp_path / "results"
    args = [str(SUITE), "authorization", "--url", bridge.url]
    args += ["--client-id", registered.json()["client_id"], "--resource", bridge.url, "--port", str(port)]
    with subprocess.Popen(
        [str(NODE), *args, "-o", str(results)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=node_env(tmp_path / "home"),
        cwd=NODE_DIR,
    ) as suite:
        assert suite.stdout is not None
        printed: list[str] = []
        for line in suite.stdout:  # the suite prints the URL, then waits (up to 5 minutes) for the callback
            printed.append(line)
            if line.startswith(f"{bridge.url}/authorize?"):
                landed = sign_in(line.strip(), TOKENS["support"][0])
                assert landed.startswith(f"{callback}?"), landed
                assert httpx2.get(landed, timeout=20).status_code == 200  # the browser reaches the callback
                break
        rest, _ = suite.communicate(timeout=300)
    output = "".join(printed) + rest
    assert suite.returncode == 0, output[-4000:]
    statuses = _statuses(results)
    assert statuses.get("authorization-code-grant") == ["SUCCESS"], (statuses, output[-4000:])
    # the metadata scenario's checks, client ID metadata documents included
    assert {"authorization-server-metadata", "authorization-server-metadata-cimd"} <= set(statuses)
    assert all(s == ["SUCCESS"] for s in statuses.values()), statuses
