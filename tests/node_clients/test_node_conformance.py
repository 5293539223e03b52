"""The official MCP conformance suite's server scenarios against a no-auth loopback bridge (the suite
cannot send credentials and speaks Streamable HTTP only). Other scenarios expect the reference server's
own tools and prompts, so only these apply to the bridge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.bridge_http import BridgeProcess
from tests.support.node import NODE_MARKS, run_tool

pytestmark = NODE_MARKS


@pytest.mark.parametrize(
    "scenario", ["server-initialize", "tools-list", "ping", "dns-rebinding-protection", "resources-list"]
)
def test_conformance_scenario(open_node_bridge: BridgeProcess, tmp_path: Path, scenario: str) -> None:
    done = run_tool(
        "conformance", ["server", "--url", f"{open_node_bridge.url}/mcp", "--scenario", scenario], tmp_path, timeout=90
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    counts = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", output)  # "Passed: 2/2, 0 failed, 0 warnings"
    assert counts, output
    assert int(counts[1]) == int(counts[2]) > 0, output
    assert int(counts[3]) == 0, output
