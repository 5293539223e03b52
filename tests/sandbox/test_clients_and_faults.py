"""The sandbox through real clients: CustomGPT's own Python SDK, an SSE client on the answer stream,
and every fault kind as a client sees it on the wire."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import sseclient  # pyright: ignore[reportMissingTypeStubs]
from customgpt_client import CustomGPT

from tests.support.sandbox_process import SandboxProcess, running_sandbox

QUESTION = "How long are backups kept on the Pro plan?"


@pytest.fixture
def api(sandbox: SandboxProcess) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=sandbox.api_url, headers=sandbox.headers, timeout=10) as client:
        yield client


def _session(api: httpx2.Client, project: int = 1) -> str:
    return api.post(f"/projects/{project}/conversations", json={"name": "t"}).json()["data"]["session_id"]


def _events(response: httpx2.Response) -> list[tuple[str, dict[str, Any] | str]]:
    """Parse the stream with sseclient-py, an SSE client independent of our own code."""
    client: Any = sseclient.SSEClient(response.iter_bytes())
    out: list[tuple[str, dict[str, Any] | str]] = []
    for event in client.events():
        data = str(event.data)
        out.append((str(event.event), data if data == "[DONE]" else json.loads(data)))
    return out


def test_official_customgpt_sdk(sandbox: SandboxProcess) -> None:
    sdk: Any = CustomGPT  # the generated SDK is configured through class attributes
    sdk.api_key = sandbox.api_key
    sdk.base_url = sandbox.url
    projects = sdk.Project.list()
    assert projects.status_code == 200
    assert "Northwind Support" in [p.project_name for p in projects.parsed.data.data]

    conversation = sdk.Conversation.create(project_id=1, name="SDK test")
    assert conversation.status_code == 201
    session_id = conversation.parsed.data.session_id

    sent = sdk.Conversation.send(project_id=1, session_id=session_id, prompt=QUESTION)
    assert sent.status_code == 200
    message = sent.parsed.data
    assert "90 days" in message.openai_response

    citation = sdk.Citation.get(project_id=1, citation_id=message.citations[0])
    assert citation.status_code == 200
    assert citation.parsed.data.url.startswith("https://docs.sandbox.local/")


def test_message_stream_read_by_an_sse_client(api: httpx2.Client) -> None:
    session = _session(api)
    with api.stream(
        "POST", f"/projects/1/conversations/{session}/messages", params={"stream": "true"}, json={"prompt": QUESTION}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start"
    assert kinds[-1] == "finish"
    assert set(kinds[1:-1]) == {"progress"}
    assert len(kinds) > 4
    finish = events[-1][1]
    assert isinstance(finish, dict)
    streamed = "".join(str(data["message"]) for kind, data in events if kind == "progress" and isinstance(data, dict))
    stored = api.get(f"/projects/1/conversations/{session}/messages/{finish['id']}").json()["data"]
    assert streamed == stored["openai_response"]
    assert finish["citations"] == stored["citations"]
    assert finish["session_id"] == session


def test_chat_completions_stream_ends_with_done(api: httpx2.Client) -> None:
    body = {"messages": [{"role": "user", "content": "How do I restore a deleted file?"}], "stream": True}
    with api.stream("POST", "/projects/1/chat/completions", json=body) as response:
        events = _events(response)
    assert events[-1][1] == "[DONE]"
    chunks = [data for _, data in events[:-1] if isinstance(data, dict)]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "Show deleted files" in text


@pytest.mark.parametrize(
    ("kind", "status", "retry_after"),
    [("rate-limit", 429, "30"), ("server-error", 500, None), ("bad-gateway", 502, None), ("unavailable", 503, "1")],
)
def test_status_faults_by_header(api: httpx2.Client, kind: str, status: int, retry_after: str | None) -> None:
    response = api.get("/projects/1", headers={"X-Sandbox-Fault": kind})
    assert response.status_code == status
    assert response.json()["data"]["code"] == status
    assert response.headers.get("retry-after") == retry_after
    assert api.get("/projects/1").status_code == 200  # one request only


def test_rate_limit_says_credits(api: httpx2.Client) -> None:
    message = api.get("/projects/1", headers={"X-Sandbox-Fault": "rate-limit"}).json()["data"]["message"]
    assert message.startswith("You have exhausted your current query credits")


def test_malformed_body(api: httpx2.Client) -> None:
    response = api.get("/projects/1", headers={"X-Sandbox-Fault": "malformed"})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_reset_drops_the_connection(api: httpx2.Client) -> None:
    with pytest.raises(httpx2.RemoteProtocolError):
        api.get("/projects/1", headers={"X-Sandbox-Fault": "reset"})
    assert api.get("/projects/1").status_code == 200


def test_truncated_stream_has_no_finish(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    session = _session(api)
    before = sandbox.stats()["streams_truncated"]
    with api.stream(
        "POST",
        f"/projects/1/conversations/{session}/messages",
        params={"stream": "true"},
        json={"prompt": QUESTION},
        headers={"X-Sandbox-Fault": "truncate"},
    ) as response:
        kinds = [kind for kind, _ in _events(response)]
    assert kinds[0] == "start"
    assert "progress" in kinds
    assert "finish" not in kinds
    assert sandbox.stats()["streams_truncated"] == before + 1


def test_armed_fault_counts_down_and_matches_path(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    sandbox.arm_fault("server-error", count=2, path=r"/settings$")
    assert api.get("/projects/1").status_code == 200  # path does not match
    assert api.get("/projects/1/settings").status_code == 500
    assert api.get("/projects/1/settings").status_code == 500
    assert api.get("/projects/1/settings").status_code == 200  # used up


def test_unknown_fault_kind_is_refused(sandbox: SandboxProcess) -> None:
    response = httpx2.post(f"{sandbox.url}/_sandbox/faults", json={"kind": "meteor"}, headers=sandbox.headers)
    assert response.status_code == 400
    assert "unknown fault kind 'meteor'" in response.json()["error"]


def test_hang_does_not_block_other_requests(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    outcome: list[str] = []

    def hang() -> None:
        try:
            httpx2.get(
                f"{sandbox.api_url}/projects/1", headers={**sandbox.headers, "X-Sandbox-Fault": "hang"}, timeout=2
            )
            outcome.append("answered")
        except httpx2.ReadTimeout:
            outcome.append("timed out")

    thread = threading.Thread(target=hang)
    thread.start()
    assert api.get("/projects/1").status_code == 200  # served while the other request hangs
    thread.join(10)
    assert outcome == ["timed out"]


def test_slow_drip_and_client_disconnect_are_counted(sandbox: SandboxProcess, api: httpx2.Client) -> None:
    session = _session(api)
    before = sandbox.stats()
    with api.stream(
        "POST",
        f"/projects/1/conversations/{session}/messages",
        params={"stream": "true"},
        json={"prompt": QUESTION},
        headers={"X-Sandbox-Fault": "slow", "X-Sandbox-Drip": "0.5"},
    ) as response:
        lines = response.iter_lines()
        assert str(next(lines)).startswith("event: start")
        # Leave after the first piece: the sandbox must see the client go away.
    after = sandbox.stats()
    for _ in range(100):
        after = sandbox.stats()
        if after["streams_disconnected"] > before["streams_disconnected"]:
            break
        threading.Event().wait(0.1)
    assert after["streams_disconnected"] == before["streams_disconnected"] + 1
    assert after["open_streams"] == 0


def test_process_wide_flags() -> None:
    with running_sandbox("--fault", "unavailable") as down:
        response = httpx2.get(f"{down.api_url}/projects", headers=down.headers)
        assert response.status_code == 503
    with running_sandbox("--latency", "0.3") as slow:
        response = httpx2.get(f"{slow.api_url}/projects", headers=slow.headers)
        assert response.status_code == 200
        assert response.elapsed.total_seconds() >= 0.3


def test_stamp_puts_each_pieces_send_time_before_it() -> None:
    """`--stamp` (the streaming benchmark's clock): each streamed piece starts with `[sent T] `, T the
    sandbox's `time.monotonic()` when it sent the piece, a clock this process shares; without the
    stamps the pieces are the plain answer."""
    with running_sandbox("--stamp", "--drip", "0.01") as stamping, running_sandbox() as plain:
        answers: list[str] = []
        for sandbox in (stamping, plain):
            with httpx2.Client(base_url=sandbox.api_url, headers=sandbox.headers, timeout=10) as api:
                session = _session(api)
                asked = time.monotonic()
                with api.stream(
                    "POST",
                    f"/projects/1/conversations/{session}/messages",
                    params={"stream": "true"},
                    json={"prompt": QUESTION},
                ) as response:
                    pieces = [
                        (time.monotonic(), data["message"])
                        for kind, data in _events(response)
                        if kind == "progress" and isinstance(data, dict)
                    ]
            assert len(pieces) > 3
            if sandbox is stamping:
                stamps: list[float] = []
                for arrived, message in pieces:
                    stamp = re.fullmatch(r"\[sent (\d+\.\d{6})\] (.*)", message, re.DOTALL)
                    assert stamp is not None, message
                    stamps.append(float(stamp.group(1)))
                    assert asked < stamps[-1] <= arrived  # one clock: sent after the ask, before it arrived
                assert stamps == sorted(stamps)
                answers.append("".join(re.sub(r"^\[sent [\d.]+\] ", "", m) for _, m in pieces))
            else:
                answers.append("".join(m for _, m in pieces))
        assert answers[0] == answers[1]
        assert "90 days" in answers[1]
