"""Sandbox retrieval forgives word forms: a question whose words appear in the demo corpus only in
another form (installation / install, configuration / Configure) still finds its source."""

from __future__ import annotations

import httpx2
import pytest

from mcp_server.sandbox.corpus import load_demo
from mcp_server.sandbox.search import ProjectIndex, tokens
from tests.support.sandbox_process import SandboxProcess


def test_tokens_are_stems() -> None:
    assert tokens("Installation of the installer") == tokens("install") * 2
    assert tokens("configuration") == tokens("Configure")


@pytest.mark.parametrize(
    ("question", "document"),
    [("Installation steps?", "installing-the-agent"), ("Configuration of webhooks", "api-and-limits")],
)
def test_other_word_forms_find_the_source_over_http(sandbox: SandboxProcess, question: str, document: str) -> None:
    corpus_text = " ".join(p for d in load_demo().documents for p in d.passages).lower()
    assert question.split()[0].lower() not in corpus_text  # the word itself is not in the corpus
    with httpx2.Client(base_url=sandbox.api_url, headers=sandbox.headers, timeout=20) as client:
        session = client.post("/projects/1/conversations", json={"name": "stems"}).json()["data"]["session_id"]
        message = client.post(f"/projects/1/conversations/{session}/messages", json={"prompt": question}).json()
        cited = [client.get(f"/projects/1/citations/{c}").json()["data"]["url"] for c in message["data"]["citations"]]
    assert any(url.endswith(f"/{document}") for url in cited), cited


def test_index_ranks_by_stems() -> None:
    found = ProjectIndex(load_demo()).retrieve("configuration")
    assert [d.stem for d in found.documents] == ["api-and-limits"]
