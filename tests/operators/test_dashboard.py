"""`configs/grafana-dashboard.json` and the README's metrics table name only series the bridge exports,
and every family the bridge exports is on the dashboard and in the README."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from mcp_server.telemetry import metrics

ROOT = Path(__file__).resolve().parents[2]
SERIES = re.compile(r"\b(?:mcp_server|agent_bridge)_[a-z_]+\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def _family(series: str) -> str:
    for suffix in SUFFIXES:
        if series.endswith(suffix):
            return series.removesuffix(suffix)
    return series


def _exported() -> set[str]:
    families = {m.name for m in REGISTRY.collect()}
    assert metrics.OPERATION_DURATION._name in families  # the bridge's families are registered
    return {f for f in families if f.startswith(("mcp_server_", "agent_bridge_"))}


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    return [str(t["expr"]) for panel in dashboard["panels"] for t in panel["targets"]]


def test_the_dashboard_queries_exported_series_only() -> None:
    dashboard = json.loads((ROOT / "configs" / "grafana-dashboard.json").read_text())
    queried = {_family(s) for e in _expressions(dashboard) for s in SERIES.findall(e)}
    exported = _exported()
    assert queried <= exported, queried - exported
    assert exported <= queried, exported - queried


def test_the_readme_lists_every_family() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Operating Agent Bridge", 1)[1].split("\n## ", 1)[0]
    named = {_family(s) for s in SERIES.findall(section)}
    exported = _exported()
    assert exported <= named, exported - named
    assert named <= exported, named - exported
