"""Both official MCP conformance suites, every server scenario (`--suite all`), against a no-auth loopback
bridge serving two agents (the suites cannot send credentials and speak Streamable HTTP only).

Scenarios and checks that do not apply (the suites' own fixture tools and prompts, capabilities the
bridge does not declare) are listed with their reasons in tests/protocol/conformance/baseline-*.yml;
the suite itself fails the run on any other failure and on a listed one that starts to pass. The
README's conformance table summarises both."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.bridge_http import BridgeProcess
from tests.support.node import CONFORMANCE, NODE_MARKS, run_node

pytestmark = NODE_MARKS

BASELINES = Path(__file__).parent / "conformance"


def _checks(results: Path) -> dict[str, list[str]]:
    """Each scenario's check statuses from the suite's result folders (`server-<scenario>-<time>/checks.json`)."""
    out: dict[str, list[str]] = {}
    for checks in results.glob("*/checks.json"):
        scenario = re.sub(r"-\d{4}-\d{2}-\d{2}T[0-9-]+Z$", "", checks.parent.name.removeprefix("server-"))
        out[scenario] = [c["status"] for c in json.loads(checks.read_text())]
    return out


@pytest.mark.parametrize("spec", sorted(CONFORMANCE))
def test_every_server_scenario(open_bridge: BridgeProcess, tmp_path: Path, spec: str) -> None:
    results = tmp_path / "results"
    args = [str(CONFORMANCE[spec]), "server", "--url", f"{open_bridge.url}/mcp", "--suite", "all"]
    args += ["--expected-failures", str(BASELINES / f"baseline-{spec}.yml"), "-o", str(results)]
    done = run_node(args, tmp_path / "home", timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    checks = _checks(results)
    # The scenarios the bridge is for ran and passed outright.
    for scenario in ("server-initialize", "tools-list", "resources-list", "prompts-list", "dns-rebinding-protection"):
        assert checks.get(scenario) and "FAILURE" not in checks[scenario], (scenario, checks.get(scenario))
    if spec == "2026-07-28":
        for scenario in ("caching", "http-header-validation", "server-stateless", "sep-2164-resource-not-found"):
            assert checks.get(scenario) and "SUCCESS" in checks[scenario], (scenario, checks.get(scenario))
