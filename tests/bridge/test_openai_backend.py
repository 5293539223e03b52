"""An OpenAI-compatible backend (here CustomGPT's chat/completions layer, served by the sandbox) over stdio:
`ask` only, streamed, with conversations the bridge keeps in memory."""

from __future__ import annotations

import json
from pathlib import Path

import mcp_types as types
import pytest

from mcp_server.config_loading import parse_config
from mcp_server.errors import ConfigError
from tests.support.bridge_stdio import stdio_bridge
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio


def _config(path: Path, sandbox: SandboxProcess) -> Path:
    path.write_text(
        "[backends.compat]\n"
        'kind = "openai"\n'
        'api_key = "sandbox-key"\n'
        f'base_url = "{sandbox.url}/api/v1/projects/1"\n'
        "[[agents]]\n"
        'name = "northwind-gpt"\n'
        'backend = "compat"\n'
        'model = "gpt-4o"\n'
        'title = "Northwind (OpenAI-compatible)"\n'
    )
    return path


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_openai_compatible_agent_streams_and_keeps_conversations(sandbox: SandboxProcess, tmp_path: Path) -> None:
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message:
            pieces.append(message)

    async with stdio_bridge(env={}, config=_config(tmp_path / "compat.toml", sandbox)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        first = await client.call_tool(
            "ask", {"question": "How do I restore a deleted file?"}, progress_callback=on_progress
        )
        assert isinstance(first.structured_content, dict), _text(first)
        conversation = first.structured_content["conversation_id"]
        second = await client.call_tool(
            "ask", {"question": "How long are backups kept on the Pro plan?", "conversation_id": conversation}
        )
        transcript = await client.read_resource(f"agent://northwind-gpt/conversations/{conversation}")
        unknown = await client.call_tool("ask", {"question": "hi", "conversation_id": "not-a-conversation"})

    assert names == {"ask"}
    assert resources == {"agent://northwind-gpt/settings"}
    assert not first.is_error
    assert "Show deleted files" in first.structured_content["answer"]
    assert "".join(pieces) == first.structured_content["answer"]
    assert first.structured_content["citations"]  # CustomGPT's layer lists citation ids at top level
    assert not second.is_error, _text(second)
    assert isinstance(second.structured_content, dict)
    assert second.structured_content["conversation_id"] == conversation
    content = transcript.contents[0]
    assert isinstance(content, types.TextResourceContents)
    turns = json.loads(content.text)["messages"]
    assert [t["question"] for t in turns] == [
        "How do I restore a deleted file?",
        "How long are backups kept on the Pro plan?",
    ]
    assert unknown.is_error
    assert "no conversation not-a-conversation" in _text(unknown)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (
            {"name": "a", "backend": "compat", "model": "m", "tools": ["list_sources"]},
            "not available on the openai backend",
        ),
        ({"name": "a", "backend": "compat"}, r"agents\[0\]\.model: required"),
        ({"name": "a", "backend": "native"}, r"agents\[0\]\.project_id: required"),
        ({"name": "a", "backend": "code"}, r"agents\[0\]\.agent_id: required"),
    ],
)
def test_backend_specific_validation(agent: dict[str, object], expected: str) -> None:
    data = {
        "backends": {
            "compat": {"kind": "openai", "api_key": "k"},
            "native": {"api_key": "k"},
            "code": {"kind": "codegpt", "api_key": "k"},
        },
        "agents": [agent],
    }
    with pytest.raises(ConfigError, match=expected):
        parse_config(data, source="t.toml", env={})


async def test_codegpt_agent_over_stdio(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """CodeGPT's agents API (POST {base}/chat/completions with agentId), served by the sandbox."""
    config = tmp_path / "codegpt.toml"
    config.write_text(
        "[backends.codegpt]\n"
        'kind = "codegpt"\n'
        'api_key = "sandbox-key"\n'
        f'base_url = "{sandbox.url}/api/v1"\n'
        "[[agents]]\n"
        'name = "northwind-codegpt"\n'
        'backend = "codegpt"\n'
        'agent_id = "1"\n'
    )
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message:
            pieces.append(message)

    async with stdio_bridge(env={}, config=config) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        streamed = await client.call_tool(
            "ask", {"question": "How do I restore a deleted file?"}, progress_callback=on_progress
        )
        plain = await client.call_tool("ask", {"question": "How do I restore a deleted file?"})
    assert names == {"ask", "list_sources"}  # CodeGPT lists the agent's documents
    assert isinstance(streamed.structured_content, dict), _text(streamed)
    assert isinstance(plain.structured_content, dict), _text(plain)
    assert "Show deleted files" in streamed.structured_content["answer"]
    assert "".join(pieces) == streamed.structured_content["answer"]
    assert plain.structured_content["answer"] == streamed.structured_content["answer"]


def test_backend_base_url_defaults_follow_the_kind() -> None:
    config = parse_config(
        {"backends": {"c": {"kind": "codegpt", "api_key": "k"}, "o": {"kind": "openai", "api_key": "k"}}},
        source="t.toml",
        env={},
    )
    assert config.backends["c"].base_url == "https://api.codegpt.co/api/v1"
    assert config.backends["o"].base_url == "https://api.openai.com/v1"
