"""What the sandbox knows: the demo corpus as project 1, a `--corpus` folder as project 2, extractive
answers with citations to the documents the passages came from, and the polite no-answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mcp_server.sandbox.search import NO_ANSWER, pieces
from tests.support.sandbox_process import SandboxProcess, running_sandbox


@pytest.fixture
def api(sandbox: SandboxProcess) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=sandbox.api_url, headers=sandbox.headers, timeout=10) as client:
        yield client


def _ask(api: httpx2.Client, question: str, project: int = 1) -> dict[str, Any]:
    session = api.post(f"/projects/{project}/conversations", json={"name": "q"}).json()["data"]["session_id"]
    response = api.post(f"/projects/{project}/conversations/{session}/messages", json={"prompt": question})
    assert response.status_code == 200
    return response.json()["data"]


@pytest.mark.parametrize(
    ("question", "expected", "document"),
    [
        ("How long are backups retained on the Pro plan?", "90 days", "plans-and-pricing"),
        ("How do I restore a deleted file?", "Show deleted files", "restoring-files"),
        ("What are the API rate limits?", "600 requests per minute", "api-and-limits"),
        ("How do I install the agent silently on many Windows machines?", "msiexec", "installing-the-agent"),
        ("Can I put a device on legal hold?", "legal hold", "retention-policies"),
    ],
)
def test_demo_answers_cite_their_documents(api: httpx2.Client, question: str, expected: str, document: str) -> None:
    message = _ask(api, question)
    assert expected in message["openai_response"]
    urls = [api.get(f"/projects/1/citations/{c}").json()["data"]["url"] for c in message["citations"]]
    assert f"https://docs.sandbox.local/northwind-support/{document}" in urls


def test_answers_are_deterministic(api: httpx2.Client) -> None:
    first, second = _ask(api, "Is my data encrypted?"), _ask(api, "Is my data encrypted?")
    assert first["openai_response"] == second["openai_response"]
    assert first["citations"] == second["citations"]
    assert first["id"] != second["id"]


@pytest.mark.parametrize("question", ["What is the capital of France?", "hello", "the and of"])
def test_no_match_is_a_polite_answer_without_citations(api: httpx2.Client, question: str) -> None:
    message = _ask(api, question)
    assert message["openai_response"] == NO_ANSWER
    assert message["citations"] == []


def test_corpus_folder_is_project_two(api: httpx2.Client) -> None:
    projects = api.get("/projects", params={"order": "asc"}).json()["data"]
    assert [(p["id"], p["project_name"]) for p in projects["data"]] == [(1, "Northwind Support"), (2, "Acme Hr")]
    message = _ask(api, "How many days of paid leave do employees get?", project=2)
    assert "25 days of paid leave" in message["openai_response"]
    citation = api.get(f"/projects/2/citations/{message['citations'][0]}").json()["data"]
    assert citation == {
        "id": message["citations"][0],
        "url": "https://docs.sandbox.local/acme-hr/leave-policy",
        "title": "Leave policy",
        "description": "Employees get 25 days of paid leave a year; unused days expire in March.",
        "image": None,
    }
    # A citation id is scoped to its project.
    assert api.get(f"/projects/1/citations/{message['citations'][0]}").status_code == 404


def test_sources_list_the_documents_as_upload_pages(api: httpx2.Client) -> None:
    sources = api.get("/projects/1/sources").json()["data"]
    assert sources["sitemaps"] == []
    pages = sources["uploads"]["pages"]
    assert len(pages) == 8
    assert {p["page_url"].rsplit("/", 1)[1] for p in pages} >= {"plans-and-pricing", "retention-policies"}


def test_pieces_concatenate_back() -> None:
    text = "  Backups are kept for 90 days.\n\nSecond  paragraph, with   spaces. "
    parts = pieces(text)
    assert "".join(parts) == text
    assert len(parts) > 3


def test_bad_corpus_folder_fails_with_its_reason(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"no \.md or \.txt documents"), running_sandbox("--corpus", str(tmp_path)):
        pass
