"""A CodeGPT agent through the bridge, end to end over stdio against the sandbox's CodeGPT shapes:
its documents as `list_sources` and the `sources`/`pages` resources (the CodeGPT-Org-Id header sent
when the backend names an org), both stream formats, multi-turn, faults."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest

from mcp_server.backends.codegpt import CodeGPTBackend
from mcp_server.operations import tools_for, unimplemented
from tests.support.bridge_stdio import stdio_bridge
from tests.support.sandbox_process import SandboxProcess, running_sandbox

pytestmark = pytest.mark.anyio

ORG = "org-5b1d"
QUESTION = "How do I restore a deleted file?"


@pytest.fixture(scope="module")
def codegpt_sandbox() -> Generator[SandboxProcess]:
    with running_sandbox("--codegpt-org", ORG) as sandbox:
        yield sandbox


def _config(path: Path, sandbox: SandboxProcess, *backend_lines: str) -> Path:
    lines = [
        "[backends.code]",
        'kind = "codegpt"',
        'api_key = "sandbox-key"',
        f'base_url = "{sandbox.api_url}"',
        *backend_lines,
        "[[agents]]",
        'name = "northwind-code"',
        'backend = "code"',
        'agent_id = "1"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def _json(result: types.ReadResourceResult) -> Any:
    content = result.contents[0]
    assert isinstance(content, types.TextResourceContents)
    return json.loads(content.text)


def test_codegpt_implements_every_capability_it_states() -> None:
    assert unimplemented(CodeGPTBackend) == []
    assert tools_for(CodeGPTBackend.CAPABILITIES) == ("ask", "list_sources")


@pytest.mark.parametrize("org", [ORG, None])
def test_check_config_reads_the_agent_for_free(
    codegpt_sandbox: SandboxProcess, tmp_path: Path, org: str | None
) -> None:
    config = _config(tmp_path / "c.toml", codegpt_sandbox, *([f'org_id = "{org}"'] if org else []))
    result = subprocess.run(
        [sys.executable, "-m", "mcp_server", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    if org:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "upstream: OK (reachable, key accepted, agent found with 8 document(s))" in result.stdout
    else:
        assert result.returncode == 1
        assert "FAILED: the upstream refused the API key (HTTP 403)" in result.stdout
        assert "set org_id in the backend (CodeGPT-Org-Id)" in result.stdout


def test_sandbox_serves_codegpt_agent_and_document_shapes(codegpt_sandbox: SandboxProcess) -> None:
    headers = {**codegpt_sandbox.headers, "CodeGPT-Org-Id": ORG}
    with httpx2.Client(base_url=codegpt_sandbox.api_url, headers=headers, timeout=20) as client:
        agents = client.get("/agent").json()
        populated = client.get("/agent/1", params={"populate": "agent_documents"}).json()
        document = client.get(f"/document/{agents[0]['agent_documents'][0]}").json()
        without_org = client.get("/agent/1", headers={"CodeGPT-Org-Id": "someone-else"})
    assert {"id", "name", "prompt", "model", "agent_documents", "welcome", "pincode", "is_public", "agent_type"} <= set(
        agents[0]
    )
    assert all(isinstance(d, str) for d in agents[0]["agent_documents"])  # ids unless populated
    assert populated["agent_documents"][0]["id"] == agents[0]["agent_documents"][0]
    assert json.loads(document["metadata"])["title"]  # metadata is a JSON string, as CodeGPT stores it
    assert document["content"]
    assert without_org.status_code == 403


async def test_codegpt_documents_are_its_sources(codegpt_sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = _config(tmp_path / "c.toml", codegpt_sandbox, f'org_id = "{ORG}"')
    async with stdio_bridge(env={}, config=config) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        listed = await client.call_tool("list_sources", {})
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        sources = _json(await client.read_resource("agent://northwind-code/sources"))
        pages = _json(await client.read_resource("agent://northwind-code/pages?page=1"))
    assert tools == {"ask", "list_sources"}
    assert not listed.is_error, _text(listed)
    assert isinstance(listed.structured_content, dict)
    titles = {p["title"] for p in listed.structured_content["pages"]}
    assert {"Restoring files", "Installing the backup agent", "Getting support"} <= titles  # from metadata
    assert listed.structured_content["total_documents"] == 8
    assert {"agent://northwind-code/sources", "agent://northwind-code/pages"} <= resources
    assert sources["items"][0]["page_count"] == 8
    assert len(pages["items"]) == 8
    assert all(p["url"].endswith(".md") for p in pages["items"])


async def test_without_the_org_the_error_says_to_set_it(codegpt_sandbox: SandboxProcess, tmp_path: Path) -> None:
    async with stdio_bridge(env={}, config=_config(tmp_path / "c.toml", codegpt_sandbox)) as client:
        listed = await client.call_tool("list_sources", {})
    assert listed.is_error
    assert "set org_id in the backend (CodeGPT-Org-Id)" in _text(listed)


@pytest.mark.parametrize("stream_format", ["json", "text"])
async def test_both_stream_formats_multi_turn(
    codegpt_sandbox: SandboxProcess, tmp_path: Path, stream_format: str
) -> None:
    config = _config(tmp_path / "c.toml", codegpt_sandbox, f'org_id = "{ORG}"', f'stream_format = "{stream_format}"')
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message:
            pieces.append(message)

    codegpt_sandbox.reset_stats()
    async with stdio_bridge(env={}, config=config) as client:
        plain = await client.call_tool("ask", {"question": QUESTION})
        assert isinstance(plain.structured_content, dict), _text(plain)
        conversation = plain.structured_content["conversation_id"]
        streamed = await client.call_tool(
            "ask", {"question": QUESTION, "conversation_id": conversation}, progress_callback=on_progress
        )
        transcript = _json(await client.read_resource(f"agent://northwind-code/conversations/{conversation}"))
    assert isinstance(streamed.structured_content, dict), _text(streamed)
    assert "Show deleted files" in streamed.structured_content["answer"]
    assert len(pieces) > 1
    assert "".join(pieces) == streamed.structured_content["answer"] == plain.structured_content["answer"]
    assert streamed.structured_content["conversation_id"] == conversation
    assert [m["question"] for m in transcript["messages"]] == [QUESTION, QUESTION]
    assert codegpt_sandbox.stats()["streams_completed"] == 1


async def test_codegpt_faults_become_tool_errors(codegpt_sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = _config(tmp_path / "c.toml", codegpt_sandbox, f'org_id = "{ORG}"')
    codegpt_sandbox.arm_fault("rate-limit", path="/chat/completions$")
    codegpt_sandbox.arm_fault("truncate", path="/chat/completions$")

    async def ignore(progress: float, total: float | None, message: str | None) -> None:
        return None

    async with stdio_bridge(env={}, config=config) as client:
        limited = await client.call_tool("ask", {"question": QUESTION})
        cut = await client.call_tool("ask", {"question": QUESTION}, progress_callback=ignore)
        fine = await client.call_tool("ask", {"question": QUESTION})
    assert limited.is_error and "rate-limiting or out of query credits" in _text(limited)
    assert cut.is_error and "ended before [DONE]" in _text(cut)
    assert not fine.is_error
