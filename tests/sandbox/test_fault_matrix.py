"""Every fault kind through each way of arming it: request headers, the control API, and the
process-wide CLI flags; plus the control API's own validation and the stream counters."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from mcp_server.sandbox.faults import FAULT_KINDS
from tests.support.sandbox_process import SandboxProcess, running_sandbox

QUESTION = "How long are backups kept on the Pro plan?"
MESSAGES = r"/conversations/[^/]+/messages$"


@pytest.fixture
def api(sandbox: SandboxProcess) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=sandbox.api_url, headers=sandbox.headers, timeout=10) as client:
        yield client


def _session(api: httpx2.Client) -> str:
    return api.post("/projects/1/conversations", json={"name": "faults"}).json()["data"]["session_id"]


def _stream_lines(api: httpx2.Client, session: str, headers: dict[str, str] | None = None) -> tuple[list[str], float]:
    """The stream's `data:` lines and the seconds between the first and the last of them."""
    lines: list[str] = []
    stamps: list[float] = []
    with api.stream(
        "POST",
        f"/projects/1/conversations/{session}/messages",
        params={"stream": "true"},
        json={"prompt": QUESTION},
        headers=headers or {},
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                lines.append(line[6:])
                stamps.append(time.monotonic())
    return lines, stamps[-1] - stamps[0]


def _wait_for(sandbox: SandboxProcess, key: str, value: int) -> dict[str, Any]:
    stats = sandbox.stats()
    for _ in range(100):
        if stats[key] == value:
            break
        time.sleep(0.05)
        stats = sandbox.stats()
    return stats


def test_every_kind_is_known() -> None:
    expected = {"latency", "rate-limit", "server-error", "bad-gateway", "unavailable", "reset", "malformed"}
    assert expected | {"truncate", "slow", "hang", "timeout", "drip"} == set(FAULT_KINDS)


@pytest.mark.parametrize(
    "headers",
    [{"X-Sandbox-Fault": "latency", "X-Sandbox-Latency": "0.3"}, {"X-Sandbox-Latency": "0.3"}],
    ids=["kind-and-seconds", "seconds-only"],
)
def test_latency_by_header(api: httpx2.Client, headers: dict[str, str]) -> None:
    response = api.get("/projects/1", headers=headers)
    assert response.status_code == 200
    assert response.json()["data"]["id"] == 1
    assert response.elapsed.total_seconds() >= 0.3


def test_slow_plain_request_waits_its_drip(api: httpx2.Client) -> None:
    response = api.get("/projects/1", headers={"X-Sandbox-Fault": "slow", "X-Sandbox-Drip": "0.3"})
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.3


def test_unknown_fault_header_is_a_400_envelope(api: httpx2.Client) -> None:
    response = api.get("/projects/1", headers={"X-Sandbox-Fault": "meteor"})
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert "unknown fault kind 'meteor'" in response.json()["data"]["message"]


def test_drip_spaces_the_stream(api: httpx2.Client) -> None:
    lines, seconds = _stream_lines(api, _session(api), {"X-Sandbox-Drip": "0.02"})
    progress = [line for line in lines if '"progress"' in line]
    assert json.loads(lines[-1])["status"] == "finish"
    assert seconds >= 0.02 * len(progress) * 0.9


@pytest.mark.parametrize(
    ("kind", "status", "retry_after", "message"),
    [
        ("rate-limit", 429, "30", "You have exhausted your current query credits"),
        ("server-error", 500, None, "Internal Server Error"),
        ("bad-gateway", 502, None, "Bad Gateway"),
        ("unavailable", 503, "1", "Service Unavailable"),
    ],
)
def test_status_faults_armed_through_the_control_api(
    sandbox: SandboxProcess, api: httpx2.Client, kind: str, status: int, retry_after: str | None, message: str
) -> None:
    session = _session(api)
    sandbox.arm_fault(kind, path=MESSAGES)
    failed = api.post(f"/projects/1/conversations/{session}/messages", json={"prompt": QUESTION})
    assert failed.status_code == status
    assert failed.headers.get("retry-after") == retry_after
    body = failed.json()
    assert body["status"] == "error"
    assert body["url"] == str(failed.request.url)
    assert body["data"]["code"] == status
    assert body["data"]["message"].startswith(message)
    retried = api.post(f"/projects/1/conversations/{session}/messages", json={"prompt": QUESTION})
    assert retried.status_code == 200  # count=1: the retry succeeds
    assert sandbox.stats()["faults"][kind] >= 1


def test_latency_armed_through_the_control_api(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    sandbox.arm_fault("latency", path=r"/user$", latency=0.3)
    assert api.get("/user").elapsed.total_seconds() >= 0.3
    assert api.get("/user").elapsed.total_seconds() < 0.3


def test_malformed_and_reset_armed_through_the_control_api(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    sandbox.arm_fault("malformed", path=r"/chat/completions$")
    body = {"messages": [{"role": "user", "content": QUESTION}]}
    malformed = api.post("/projects/1/chat/completions", json=body)
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)

    sandbox.arm_fault("reset", path=MESSAGES)
    session = _session(api)
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        api.post(f"/projects/1/conversations/{session}/messages", params={"stream": "true"}, json={"prompt": QUESTION})
    assert api.post("/projects/1/chat/completions", json=body).json()["choices"][0]["message"]["content"]


def test_truncated_completion_stream_has_no_done(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    sandbox.arm_fault("truncate", path=r"/chat/completions$")
    body = {"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    with api.stream("POST", "/projects/1/chat/completions", json=body) as response:
        data = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert data
    assert "[DONE]" not in data
    assert all(json.loads(d)["choices"][0]["finish_reason"] is None for d in data)


def test_stream_flag_in_the_body_streams(api: httpx2.Client) -> None:
    session = _session(api)
    with api.stream(
        "POST", f"/projects/1/conversations/{session}/messages", json={"prompt": QUESTION, "stream": 1}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        statuses = [json.loads(line[6:])["status"] for line in response.iter_lines() if line.startswith("data: ")]
    assert statuses[0] == "start"
    assert statuses[-1] == "finish"


def test_timeout_hangs_until_the_client_leaves(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    sandbox.arm_fault("timeout", path=r"/limits/usage$")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx2.get(f"{sandbox.api_url}/limits/usage", headers=sandbox.headers, timeout=1.0)
        except httpx2.TimeoutException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    assert _wait_for(sandbox, "hanging", 1)["hanging"] == 1
    started = time.monotonic()
    assert api.get("/projects").status_code == 200  # served while the other request hangs
    assert time.monotonic() - started < 0.5
    thread.join(10)
    assert len(errors) == 1
    assert _wait_for(sandbox, "hanging", 0)["hanging"] == 0  # the hung request ends with its client


def test_completion_stream_closed_early_counts_as_disconnected(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    before = sandbox.stats()
    body = {"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    with api.stream("POST", "/projects/1/chat/completions", json=body, headers={"X-Sandbox-Drip": "0.2"}) as response:
        first = next(response.iter_lines())
        assert first.startswith("data: ")
    after = _wait_for(sandbox, "streams_disconnected", before["streams_disconnected"] + 1)
    assert after["streams_disconnected"] == before["streams_disconnected"] + 1
    assert after["streams_started"] == before["streams_started"] + 1
    assert after["streams_completed"] == before["streams_completed"]
    assert after["open_streams"] == 0


def test_stats_count_requests_by_route(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    before = sandbox.stats()["requests"].get("/api/v1/projects/{project_id}/settings", 0)
    api.get("/projects/1/settings")
    api.get("/projects/2/settings")
    assert sandbox.stats()["requests"]["/api/v1/projects/{project_id}/settings"] == before + 2


def test_armed_until_cleared(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    sandbox.arm_fault("bad-gateway", count=-1, path=r"/user$")
    assert [api.get("/user").status_code for _ in range(3)] == [502, 502, 502]
    sandbox.clear_faults()
    assert api.get("/user").status_code == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"kind": "slow", "count": 0}, "count must be"),
        ({"kind": "slow", "path": "(unclosed"}, "not a valid regular expression"),
        ({"kind": "latency", "latency": -1}, "must not be negative"),
        ({"kind": "latency", "count": "many"}, "invalid literal"),
        ([1, 2], "JSON object"),
    ],
)
def test_control_api_refuses_bad_faults(sandbox: SandboxProcess, body: Any, error: str) -> None:
    response = httpx2.post(f"{sandbox.url}/_sandbox/faults", json=body, headers=sandbox.headers)
    assert response.status_code == 400
    assert error in response.json()["error"]


def test_control_api_needs_the_key(sandbox: SandboxProcess) -> None:
    assert httpx2.get(f"{sandbox.url}/_sandbox/stats").status_code == 401
    assert httpx2.delete(f"{sandbox.url}/_sandbox/faults", headers={"Authorization": "Bearer no"}).status_code == 401
    assert httpx2.post(f"{sandbox.url}/_sandbox/faults", json={"kind": "hang"}).status_code == 401


def test_cli_drip_and_fault_flags() -> None:
    with running_sandbox("--drip", "0.02", "--fault", "truncate") as sandbox:
        assert sandbox.process is not None
        with httpx2.Client(base_url=sandbox.api_url, headers=sandbox.headers, timeout=10) as api:
            lines, seconds = _stream_lines(api, _session(api))
            statuses = [json.loads(line)["status"] for line in lines]
            assert statuses[0] == "start"
            assert "progress" in statuses
            assert "finish" not in statuses  # --fault truncate, on every request
            assert seconds >= 0.02 * (len(lines) - 2) * 0.9  # --drip between pieces
            # A request's own fault header still wins over the process-wide fault.
            assert api.get("/projects/1", headers={"X-Sandbox-Fault": "server-error"}).status_code == 500
        assert sandbox.stats()["streams_truncated"] == 1


def test_disconnect_is_seen_at_once_even_mid_drip(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    before = sandbox.stats()["streams_disconnected"]
    session = _session(api)
    with api.stream(
        "POST",
        f"/projects/1/conversations/{session}/messages",
        params={"stream": "true"},
        json={"prompt": QUESTION},
        headers={"X-Sandbox-Drip": "30"},
    ) as response:
        assert next(response.iter_lines()).startswith("event: start")
    left = time.monotonic()
    after = _wait_for(sandbox, "streams_disconnected", before + 1)
    assert after["streams_disconnected"] == before + 1
    assert time.monotonic() - left < 2  # not at the next 30-second piece
    assert after["open_streams"] == 0
