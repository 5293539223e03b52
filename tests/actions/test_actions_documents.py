"""The facade's OpenAPI documents from a real `agent-bridge serve`: valid OpenAPI (3.1 and the 3.0.3
rendering), within ChatGPT's limits, public, and complete enough that a client generated from them
calls every operation with responses that match them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate

from tests.actions.conftest import AGENTS, actions_config
from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

OPERATION_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
DOCUMENTS = ["/actions/support/openapi.json", "/actions/openapi.json"]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


@pytest.mark.parametrize("path", DOCUMENTS)
@pytest.mark.parametrize(("query", "version"), [("", "3.1.0"), ("?openapi=3.0", "3.0.3")])
def test_documents_are_valid_openapi_and_public(bridge: BridgeProcess, path: str, query: str, version: str) -> None:
    response = httpx2.get(f"{bridge.url}{path}{query}")  # no token: the GPT editor's import sends none
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["openapi"] == version
    validate(document)
    assert len(response.text) < 100_000


@pytest.mark.parametrize("path", DOCUMENTS)
def test_documents_keep_chatgpt_limits(bridge: BridgeProcess, path: str) -> None:
    document = httpx2.get(f"{bridge.url}{path}").json()
    assert document["servers"] == [{"url": bridge.url}]  # the request's own origin: no public_url configured
    assert document["components"]["securitySchemes"] == {"bearerAuth": {"type": "http", "scheme": "bearer"}}
    assert document["security"] == [{"bearerAuth": []}]
    operations = _operations(document)
    ids = [op["operationId"] for _, _, op in operations]
    assert len(set(ids)) == len(ids)
    for _, _, op in operations:
        assert OPERATION_ID.match(op["operationId"]), op["operationId"]
        assert 0 < len(op["summary"]) <= 300 and 0 < len(op["description"]) <= 300
        for parameter in op.get("parameters", []):
            assert 0 < len(parameter["description"]) <= 700
            assert parameter["in"] != "query" or parameter["name"] != "token"
        assert op["x-openai-isConsequential"] is False
    asks = [op for p, m, op in operations if m == "post" and p.endswith("/ask")]
    assert asks and all("in_progress" in op["description"] and "getAnswer" in op["description"] for op in asks)


def test_the_combined_document_lists_every_agent_and_the_agent_document_only_its_own(bridge: BridgeProcess) -> None:
    combined = httpx2.get(f"{bridge.url}/actions/openapi.json").json()
    for name, _, _ in AGENTS:
        assert f"/actions/{name}/ask" in combined["paths"]
        assert f"{name}_ask" in [op["operationId"] for _, _, op in _operations(combined)]
    one = httpx2.get(f"{bridge.url}/actions/hr/openapi.json").json()
    assert {p.split("/")[2] for p in one["paths"]} == {"hr"}
    assert sorted(op["operationId"] for _, _, op in _operations(one)) == [
        "ask",
        "getAnswer",
        "listSources",
        "searchCitations",
    ]
    assert one["info"]["title"].startswith("Acme HR")


@pytest.mark.parametrize(
    ("auth", "scheme"),
    [
        ("basic", {"basicAuth": {"type": "http", "scheme": "basic"}}),
        ("api_key", {"apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}),
    ],
)
def test_a_document_can_declare_the_other_key_styles(bridge: BridgeProcess, auth: str, scheme: dict[str, Any]) -> None:
    document = httpx2.get(f"{bridge.url}/actions/support/openapi.json?auth={auth}").json()
    assert document["components"]["securitySchemes"] == scheme
    validate(document)


def test_bad_document_options_and_unknown_agents_are_json_errors(bridge: BridgeProcess) -> None:
    for url, status in [
        ("/actions/support/openapi.json?openapi=2.0", 400),
        ("/actions/support/openapi.json?auth=cookie", 400),
        ("/actions/nobody/openapi.json", 404),
    ]:
        response = httpx2.get(f"{bridge.url}{url}")
        assert response.status_code == status
        assert set(response.json()) == {"error", "message"}


def test_public_url_sets_servers_and_the_facade_is_off_unless_enabled(sandbox: SandboxProcess, tmp_path: Path) -> None:
    public = actions_config(tmp_path / "public.toml", sandbox, server=('public_url = "https://bridge.example.com/"',))
    with running_bridge(public) as bridge:
        document = httpx2.get(f"{bridge.url}/actions/support/openapi.json").json()
        assert document["servers"] == [{"url": "https://bridge.example.com"}]
    plain = write_http_config(tmp_path / "plain.toml", sandbox.url)
    with running_bridge(plain) as bridge:
        for path in ("/actions/support/openapi.json", "/actions/openapi.json"):
            assert httpx2.get(f"{bridge.url}{path}").status_code == 404
        assert (
            httpx2.post(f"{bridge.url}/actions/support/ask", json={"question": "x"}, headers=bridge.auth()).status_code
            == 404
        )


def _value(schema: dict[str, Any]) -> Any:
    """A valid value from a parameter schema: its default, else the smallest that fits."""
    if "default" in schema:
        return schema["default"]
    if schema.get("type") == "integer":
        return schema.get("minimum", 1)
    return "backups"


def test_a_client_generated_from_the_document_calls_every_operation(bridge: BridgeProcess) -> None:
    """Every operation of the document, called with what the document says (examples, defaults,
    the answer_id its link names), answers 200 with a body the document's own schema accepts."""
    document = httpx2.get(f"{bridge.url}/actions/support/openapi.json").json()
    spec = OpenAPI.from_dict(document)
    answer_id: str | None = None
    called: list[str] = []
    for path, method, op in sorted(_operations(document), key=lambda t: "answers" in t[0]):  # ask before getAnswer
        query = {p["name"]: _value(p["schema"]) for p in op.get("parameters", []) if p["in"] == "query"}
        url_path = path.replace("{answer_id}", answer_id or "")
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
        response = httpx2.request(
            method.upper(), f"{bridge.url}{url_path}", params=query, json=body, headers=bridge.auth(), timeout=60
        )
        assert response.status_code == 200, response.text
        request = MockRequest(bridge.url, method, url_path, args={k: str(v) for k, v in query.items()})
        spec.validate_response(request, MockResponse(response.content, response.status_code))
        if op["operationId"] == "ask":
            answer_id = response.json()["answer_id"]
        called.append(op["operationId"])
    assert sorted(called) == ["ask", "getAnswer", "listSources", "searchCitations"]
