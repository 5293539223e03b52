"""Every sandbox endpoint's responses, errors included, validate against the response schemas of
CustomGPT's published OpenAPI spec (read from ../shared/upstream, never copied)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from tests.support.sandbox_process import SandboxProcess

SPEC = Path(__file__).resolve().parents[3] / "shared" / "upstream" / "customgpt-openapi.json"
SPEC_HOST = "https://app.customgpt.ai"


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    if not SPEC.exists():
        pytest.skip(f"{SPEC} is absent (shared/upstream lives beside the repository)")
    return OpenAPI.from_file_path(str(SPEC), config=Config(spec_validator_cls=None))  # pyright: ignore[reportArgumentType] - None turns the spec check off


@pytest.fixture
def api(sandbox: SandboxProcess) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=sandbox.url, headers=sandbox.headers, timeout=10) as client:
        yield client


# The spec lists error messages as their literal templates ("Agent with id {projectId} not found"),
# so a real message validates only once its id is put back into template form.
MESSAGE_TEMPLATES = [
    (re.compile(r"^Agent with id \d+ not found$"), "Agent with id {projectId} not found"),
    (re.compile(r"^Page with id \d+ not found$"), "Page with id {pageId} not found"),
    (re.compile(r"^Conversation message with id \d+ not found$"), "Conversation message with id {messageId} not found"),
]


def _as_spec_writes_it(response: httpx2.Response) -> bytes:
    """The body with the spec's two known defects accounted for (each is asserted separately)."""
    body = response.json()
    if response.status_code < 400 or not isinstance(body.get("data"), dict):
        return response.content
    data = dict(body["data"])
    for pattern, template in MESSAGE_TEMPLATES:
        if isinstance(data.get("message"), str) and pattern.match(data["message"]):
            data["message"] = template
    if response.status_code == 429:
        # The 429 schema's code enum omits 429 although its own example is 429.
        assert data.pop("code") == 429
    return json.dumps({**body, "data": data}).encode()


def check(openapi: OpenAPI, response: httpx2.Response) -> dict[str, Any]:
    """Validate a real sandbox response against the spec, as if it came from app.customgpt.ai."""
    request = response.request
    mock_request = MockRequest(
        SPEC_HOST,
        request.method,
        request.url.path,
        args=dict(request.url.params),
        headers=dict(request.headers),
        data=request.content or None,
    )
    mock_response = MockResponse(
        _as_spec_writes_it(response),
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=response.headers.get("content-type", "").split(";")[0],
    )
    openapi.validate_response(mock_request, mock_response)
    return response.json()


def _conversation(api: httpx2.Client) -> str:
    return api.post("/api/v1/projects/1/conversations", json={"name": "contract"}).json()["data"]["session_id"]


def test_projects(openapi: OpenAPI, api: httpx2.Client) -> None:
    listing = check(openapi, api.get("/api/v1/projects"))
    assert [p["project_name"] for p in listing["data"]["data"]] == ["Acme Hr", "Northwind Support"]  # desc by id
    assert listing["data"]["per_page"] == 10
    ascending = check(openapi, api.get("/api/v1/projects", params={"order": "asc", "name": "northwind"}))
    assert [p["id"] for p in ascending["data"]["data"]] == [1]
    assert check(openapi, api.get("/api/v1/projects/1"))["data"]["id"] == 1
    assert check(openapi, api.get("/api/v1/projects/1/settings"))["data"]["chatbot_title"]


def test_sources_and_pages(openapi: OpenAPI, api: httpx2.Client) -> None:
    sources = check(openapi, api.get("/api/v1/projects/1/sources"))["data"]
    assert sources["uploads"]["pages"]
    pages = check(openapi, api.get("/api/v1/projects/1/pages", params={"page": 1, "limit": 3}))["data"]
    assert pages["pages"]["per_page"] == 3
    assert len(pages["pages"]["data"]) == 3
    assert pages["pages"]["last_page"] == 3  # seven demo documents, three a page


def test_conversations_messages_citations(openapi: OpenAPI, api: httpx2.Client) -> None:
    created = api.post("/api/v1/projects/1/conversations", json={"name": "contract"})
    assert created.status_code == 201
    session = check(openapi, created)["data"]["session_id"]
    assert session in {
        c["session_id"] for c in check(openapi, api.get("/api/v1/projects/1/conversations"))["data"]["data"]
    }

    sent = api.post(
        f"/api/v1/projects/1/conversations/{session}/messages",
        json={"prompt": "How long are backups kept on the Pro plan?", "response_source": "default"},
    )
    message = check(openapi, sent)["data"]
    assert "90 days" in message["openai_response"]
    assert message["citations"]

    listed = check(openapi, api.get(f"/api/v1/projects/1/conversations/{session}/messages"))["data"]
    assert listed["messages"]["data"][0]["id"] == message["id"]
    one = check(openapi, api.get(f"/api/v1/projects/1/conversations/{session}/messages/{message['id']}"))
    assert one["data"]["user_query"] == "How long are backups kept on the Pro plan?"

    citation = check(openapi, api.get(f"/api/v1/projects/1/citations/{message['citations'][0]}"))["data"]
    assert citation["url"].startswith("https://docs.sandbox.local/northwind-support/")
    assert citation["title"]


def test_chat_completions_limits_user(openapi: OpenAPI, api: httpx2.Client) -> None:
    completion = check(
        openapi,
        api.post(
            "/api/v1/projects/1/chat/completions",
            json={"messages": [{"role": "user", "content": "How do I restore a deleted file?"}]},
        ),
    )
    assert "Show deleted files" in completion["choices"][0]["message"]["content"]
    assert completion["citations"]
    assert check(openapi, api.get("/api/v1/limits/usage"))["data"]["max_queries"] > 0
    assert check(openapi, api.get("/api/v1/user"))["data"]["email"]


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/api/v1/projects/999", 404, "Agent with id 999 not found"),
        ("GET", "/api/v1/projects/abc", 400, "Agent id must be integer"),
        ("GET", "/api/v1/projects/1/citations/424242", 404, "Page with id 424242 not found"),
        ("GET", "/api/v1/projects/999/settings", 404, "Agent with id 999 not found"),
        ("GET", "/api/v1/projects/999/pages", 404, "Agent with id 999 not found"),
    ],
)
def test_error_envelopes(
    openapi: OpenAPI, api: httpx2.Client, method: str, path: str, status: int, message: str
) -> None:
    response = api.request(method, path)
    assert response.status_code == status
    body = check(openapi, response)
    assert body == {"status": "error", "url": str(response.request.url), "data": {"code": status, "message": message}}


def test_unknown_message_is_404(openapi: OpenAPI, api: httpx2.Client) -> None:
    session = _conversation(api)
    response = api.get(f"/api/v1/projects/1/conversations/{session}/messages/777777")
    assert response.status_code == 404
    assert check(openapi, response)["data"]["message"] == "Conversation message with id 777777 not found"


def test_missing_or_wrong_key_is_401(openapi: OpenAPI, sandbox: SandboxProcess) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx2.get(f"{sandbox.url}/api/v1/projects", headers=headers)
        assert response.status_code == 401
        assert check(openapi, response)["data"]["message"] == "API Token is either missing or invalid"


@pytest.mark.parametrize(("kind", "status"), [("rate-limit", 429), ("server-error", 500)])
def test_fault_statuses_match_the_spec(openapi: OpenAPI, api: httpx2.Client, kind: str, status: int) -> None:
    session = _conversation(api)
    response = api.post(
        f"/api/v1/projects/1/conversations/{session}/messages",
        json={"prompt": "hello"},
        headers={"X-Sandbox-Fault": kind},
    )
    assert response.status_code == status
    check(openapi, response)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/projects/1/citations/abc", "Citation id must be integer"),
        ("/api/v1/projects/x1/citations/1001", "Agent id must be integer"),
    ],
)
def test_malformed_ids_are_400(openapi: OpenAPI, api: httpx2.Client, path: str, message: str) -> None:
    response = api.get(path)
    assert response.status_code == 400
    assert check(openapi, response)["data"] == {"code": 400, "message": message}


def test_malformed_message_id_is_400(openapi: OpenAPI, api: httpx2.Client) -> None:
    session = _conversation(api)
    response = api.get(f"/api/v1/projects/1/conversations/{session}/messages/first")
    assert response.status_code == 400
    assert check(openapi, response)["data"] == {"code": 400, "message": "Message id must be integer"}


def test_unknown_conversation_is_404(api: httpx2.Client) -> None:
    # Asserted by hand: the spec's 404 for this path enumerates only the project messages ("Agent id is
    # required", "Agent with id {projectId} not found") and documents no conversation-not-found message.
    for method, body in (("GET", None), ("POST", {"prompt": "hi"})):
        response = api.request(method, "/api/v1/projects/1/conversations/no-such-session/messages", json=body)
        assert response.status_code == 404
        assert response.json() == {
            "status": "error",
            "url": str(response.request.url),
            "data": {"code": 404, "message": "Conversation with session id no-such-session not found"},
        }


def test_conversation_of_another_project_is_404(api: httpx2.Client) -> None:
    session = _conversation(api)  # belongs to project 1
    response = api.get(f"/api/v1/projects/2/conversations/{session}/messages")
    assert response.status_code == 404


def test_chat_completions_errors_use_the_customgpt_envelope(openapi: OpenAPI, api: httpx2.Client) -> None:
    missing = api.post("/api/v1/projects/999/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
    assert missing.status_code == 404
    assert check(openapi, missing)["data"] == {"code": 404, "message": "Agent with id 999 not found"}
    no_user = api.post("/api/v1/projects/1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]})
    assert no_user.status_code == 400
    assert check(openapi, no_user)["status"] == "error"
    limited = api.post(
        "/api/v1/projects/1/chat/completions",
        json={"messages": [{"role": "user", "content": "x"}]},
        headers={"X-Sandbox-Fault": "rate-limit"},
    )
    assert limited.status_code == 429
    assert check(openapi, limited)["data"]["message"].startswith("You have exhausted your current query credits")


def test_pages_paginate_with_limit_and_page(openapi: OpenAPI, api: httpx2.Client) -> None:
    first = check(openapi, api.get("/api/v1/projects/1/pages", params={"limit": 5}))["data"]["pages"]
    second = check(openapi, api.get("/api/v1/projects/1/pages", params={"limit": 5, "page": 2}))["data"]["pages"]
    assert (first["total"], first["last_page"], first["from"], first["to"]) == (8, 2, 1, 5)
    # Null links are left out: the spec declares them non-nullable strings (Laravel sends null).
    assert (second["current_page"], second["from"], second["to"], second.get("next_page_url")) == (2, 6, 8, None)
    assert first["next_page_url"] == second["first_page_url"].replace("page=1", "page=2")
    ids = [p["id"] for p in first["data"] + second["data"]]
    assert len(set(ids)) == 8
    assert ids == sorted(ids, reverse=True)  # order=desc by page id, as upstream


def test_messages_list_is_a_paginator_of_twenty(openapi: OpenAPI, api: httpx2.Client) -> None:
    session = _conversation(api)
    for _ in range(21):
        api.post(f"/api/v1/projects/1/conversations/{session}/messages", json={"prompt": "support hours"})
    listed = check(openapi, api.get(f"/api/v1/projects/1/conversations/{session}/messages"))["data"]
    assert listed["conversation"]["session_id"] == session
    assert (listed["messages"]["per_page"], listed["messages"]["total"], listed["messages"]["last_page"]) == (20, 21, 2)
    assert len(listed["messages"]["data"]) == 20
    page_two = check(openapi, api.get(f"/api/v1/projects/1/conversations/{session}/messages", params={"page": 2}))
    assert len(page_two["data"]["messages"]["data"]) == 1


def test_message_shape(api: httpx2.Client) -> None:
    session = _conversation(api)
    message = api.post(
        f"/api/v1/projects/1/conversations/{session}/messages", json={"prompt": "What are the API rate limits?"}
    ).json()["data"]
    assert message["metadata"]["request_source"] == "api"
    assert all(isinstance(c, int) for c in message["citations"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", message["created_at"])
    assert "600 requests per minute" in message["openai_response"]
