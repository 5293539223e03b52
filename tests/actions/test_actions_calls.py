"""The facade's operations against a real `agent-bridge serve` and the sandbox: the auth matrix,
JSON errors with the right statuses (never a 500 for an upstream failure), long answers that come
back `in_progress` and continue to the same text as a non-streamed answer, answers that belong to
their token, and responses that stay under ChatGPT's 100,000 characters."""

from __future__ import annotations

import base64
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.actions.conftest import LONG_WORD
from tests.support.bridge_http import TOKENS, BridgeProcess
from tests.support.sandbox_process import SandboxProcess

QUESTION = "How long are backups kept on the Pro plan?"


def _basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"gpt:{token}".encode()).decode()}


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/actions/support/sources", {"Authorization": f"Bearer {TOKENS['all'][0]}"}, 200),
        ("/actions/support/sources", _basic(TOKENS["all"][0]), 200),
        ("/actions/support/sources", {"X-API-Key": TOKENS["all"][0]}, 200),
        ("/actions/support/sources", {}, 401),
        ("/actions/support/sources", {"Authorization": "Bearer not-a-token"}, 401),
        ("/actions/support/sources", _basic("not-a-token"), 401),
        ("/actions/support/sources", {"Authorization": "Basic %%%"}, 401),
        ("/actions/support/sources", {"X-API-Key": "not-a-token"}, 401),
        (f"/actions/support/sources?token={TOKENS['all'][0]}", {}, 401),  # never in the query string
        ("/actions/hr/sources", {"Authorization": f"Bearer {TOKENS['support'][0]}"}, 404),  # agent out of scope
        ("/actions/nobody/sources", {"Authorization": f"Bearer {TOKENS['all'][0]}"}, 404),
        ("/actions/hr/sources", {"Authorization": f"Bearer {TOKENS['hr-ask'][0]}"}, 403),  # tool out of scope
        ("/actions/hr/citations?query=leave", {"Authorization": f"Bearer {TOKENS['hr-ask'][0]}"}, 403),
    ],
)
def test_auth_matrix(bridge: BridgeProcess, path: str, headers: dict[str, str], status: int) -> None:
    response = httpx2.get(f"{bridge.url}{path}", headers=headers, timeout=30)
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200:
        assert body["sources"] and body["pages"]
        return
    assert set(body) == {"error", "message"}
    assert not any(t in response.text for t, _, _ in TOKENS.values())
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if status == 404 and "hr" in path:  # answered as on the MCP endpoints: the agents this token may use
        assert body["message"].endswith("Agents you may use: support.")


def test_ask_answers_with_citations_and_a_conversation_only_its_token_can_continue(bridge: BridgeProcess) -> None:
    first = httpx2.post(
        f"{bridge.url}/actions/support/ask", json={"question": QUESTION}, headers=bridge.auth(), timeout=60
    )
    assert first.status_code == 200
    answer = first.json()
    assert answer["status"] == "complete" and "90 days" in answer["answer"]
    assert answer["citations"] and all(c["title"] and c["url"] for c in answer["citations"])
    follow_up = {"question": "And on the Business plan?", "conversation_id": answer["conversation_id"]}
    again = httpx2.post(f"{bridge.url}/actions/support/ask", json=follow_up, headers=bridge.auth(), timeout=60)
    assert again.status_code == 200 and again.json()["conversation_id"] == answer["conversation_id"]
    other = httpx2.post(f"{bridge.url}/actions/support/ask", json=follow_up, headers=bridge.auth("support"), timeout=60)
    assert other.status_code == 404 and "conversation" in other.json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"{not json", 400, "JSON"),
        (b'["a list"]', 400, "object"),
        (b'{"question": ""}', 422, "question"),
        (b'{"question": "x", "colour": "red"}', 422, "colour"),
        (b'{"question": "x", "conversation_id": "../../x"}', 422, "conversation_id"),
        (b'{"question": "' + b"x" * 100_001 + b'"}', 413, "100,000"),
    ],
)
def test_bad_input_is_a_json_error_naming_the_cause(
    bridge: BridgeProcess, body: bytes, status: int, names: str
) -> None:
    headers = {**bridge.auth(), "Content-Type": "application/json"}
    response = httpx2.post(f"{bridge.url}/actions/support/ask", content=body, headers=headers, timeout=30)
    assert response.status_code == status
    assert response.json()["error"] and names in response.json()["message"]


def test_bad_query_parameters_and_methods_are_json_errors(bridge: BridgeProcess) -> None:
    for path, status, names in [
        ("/actions/support/citations?query=backups&limit=99", 422, "limit"),
        ("/actions/support/citations", 422, "query"),
        ("/actions/support/sources?page=0", 422, "page"),
        ("/actions/support/answers/not-an-answer-id", 404, "answer_id"),
        ("/actions/support/answers/" + "0" * 32, 404, "answer_id"),
    ]:
        response = httpx2.get(f"{bridge.url}{path}", headers=bridge.auth(), timeout=30)
        assert response.status_code == status, path
        assert names in response.json()["message"]
    wrong = httpx2.get(f"{bridge.url}/actions/support/ask", headers=bridge.auth())
    assert (
        wrong.status_code == 405 and wrong.headers["allow"] == "POST" and wrong.json()["error"] == "method_not_allowed"
    )


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("rate-limit", 429, "upstream_rate_limited"),
        ("server-error", 502, "upstream_error"),
        ("bad-gateway", 502, "upstream_error"),
        ("unavailable", 503, "upstream_error"),
        ("reset", 503, "upstream_unavailable"),
        ("malformed", 502, "upstream_error"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "body"), [("POST", "ask", {"question": QUESTION}), ("GET", "sources", None)]
)
def test_upstream_failures_are_4xx_or_5xx_json_never_500(
    bridge: BridgeProcess,
    sandbox: SandboxProcess,
    fault: str,
    status: int,
    code: str,
    method: str,
    path: str,
    body: Any,
) -> None:
    if method == "POST" and fault == "malformed":  # an answer stream has no JSON body to break
        fault, code = "truncate", "upstream_error"
    sandbox.arm_fault(fault, count=-1)
    response = httpx2.request(
        method, f"{bridge.url}/actions/support/{path}", json=body, headers=bridge.auth(), timeout=60
    )
    if method == "GET" and fault == "unavailable":  # a GET is retried after Retry-After; the 2 s budget may end first
        assert response.status_code in (503, 504), response.text
        code = response.json()["error"] if response.status_code == 504 else code
    else:
        assert response.status_code == status, response.text
    assert response.json()["error"] == code and response.json()["message"].startswith("Agent 'support': ")
    if status == 429:
        assert response.headers["retry-after"] == "30"
    assert "sandbox-key" not in response.text


async def _mcp_answer(bridge: BridgeProcess, agent: str, question: str) -> str:
    """The same question through the MCP tool, without progress (a non-streamed call)."""
    async with (
        httpx2.AsyncClient(headers=bridge.auth(), timeout=60) as http,
        Client(streamable_http_client(f"{bridge.url}/agents/{agent}/mcp", http_client=http)) as client,
    ):
        result = await client.call_tool("ask", {"question": question})
        assert not result.is_error and result.structured_content is not None
        return str(result.structured_content["answer"])


@pytest.mark.anyio
async def test_a_slow_answer_comes_back_in_progress_then_continues_to_the_whole_answer(
    bridge: BridgeProcess, sandbox: SandboxProcess
) -> None:
    sandbox.arm_fault("slow", count=1, path="/messages$", drip=0.15)  # about 8 s of pieces; the bridge waits 2 s
    async with httpx2.AsyncClient(timeout=60) as http:
        first = await http.post(f"{bridge.url}/actions/support/ask", json={"question": QUESTION}, headers=bridge.auth())
        assert first.status_code == 200
        body = first.json()
        assert body["status"] == "in_progress" and body["conversation_id"] is None
        answer_id = body["answer_id"]
        url = f"{bridge.url}/actions/support/answers/{answer_id}"
        assert (await http.get(url, headers=bridge.auth("support"))).status_code == 404  # another token's answer
        seen = [body["answer"]]
        while body["status"] == "in_progress":
            response = await http.get(url, headers=bridge.auth())
            assert response.status_code == 200
            body = response.json()
            assert body["answer"].startswith(seen[-1])  # the text so far only grows
            seen.append(body["answer"])
    assert len(seen) >= 2 and body["conversation_id"] and body["citations"]
    assert body["answer"] == await _mcp_answer(bridge, "support", QUESTION)


@pytest.mark.anyio
async def test_an_over_long_answer_is_cut_under_100000_characters_and_pages_to_the_whole(bridge: BridgeProcess) -> None:
    question = f"What does the {LONG_WORD} manual describe?"
    pieces: list[str] = []
    async with httpx2.AsyncClient(timeout=60, headers=bridge.auth()) as http:
        response = await http.post(f"{bridge.url}/actions/big/ask", json={"question": question})
        body = response.json()
        answer_url = f"{bridge.url}/actions/big/answers/{body['answer_id']}"
        while body["status"] == "in_progress":
            assert len(response.text) < 100_000
            response = await http.get(answer_url)
            body = response.json()
        while True:
            assert response.status_code == 200 and len(response.text) < 100_000
            if body["next_offset"] is None:
                pieces.append(body["answer"])
                break
            assert "for the rest" in body["answer"]
            pieces.append(body["answer"][: body["next_offset"] - sum(len(p) for p in pieces)])
            response = await http.get(answer_url, params={"offset": body["next_offset"]})
            body = response.json()
    whole = await _mcp_answer(bridge, "big", question)
    assert len(whole) > 100_000 and len(pieces) >= 2
    assert "".join(pieces) == whole
