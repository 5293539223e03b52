"""`Children`: a metric family's labelled children found by a dict lookup, the same objects
prometheus_client's `labels()` returns (so what they record is what `/metrics` shows)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from mcp_server.telemetry.metrics import Children


def test_children_are_the_familys_own_and_record_into_it() -> None:
    registry = CollectorRegistry()
    family = Histogram("demo_seconds", "demo", ("backend", "status"), registry=registry)
    children = Children(family)

    first = children("customgpt", "200")
    assert children("customgpt", "200") is first
    assert family.labels("customgpt", "200") is first
    assert children("customgpt", "500") is not first

    first.observe(0.5)
    children("customgpt", "200").observe(1.5)
    exposition = generate_latest(registry).decode()
    assert 'demo_seconds_count{backend="customgpt",status="200"} 2.0' in exposition
    assert 'demo_seconds_sum{backend="customgpt",status="200"} 2.0' in exposition
