"""Custom GPTs named by link or id on an `openai` backend: the model `gpt-4-gizmo-<id>` is derived,
the title comes from the link, `check-config` explains a value it cannot read, and the bridge's
tools work end to end against the sandbox's generic OpenAI API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mcp_types as types
import pytest

from mcp_server.backends.gizmo import parse_gpt
from tests.support.bridge_stdio import stdio_bridge
from tests.support.sandbox_process import SandboxProcess

URL_FORMS = [
    ("https://chatgpt.com/g/g-bo0FiWLY7-researchgpt", "g-bo0FiWLY7", "Researchgpt"),
    ("https://chat.openai.com/g/g-bo0FiWLY7-research-gpt", "g-bo0FiWLY7", "Research Gpt"),
    ("chatgpt.com/g/g-bo0FiWLY7-researchgpt/", "g-bo0FiWLY7", "Researchgpt"),
    ("https://chatgpt.com/g/g-bo0FiWLY7-researchgpt?model=gpt-4o", "g-bo0FiWLY7", "Researchgpt"),
    ("https://chatgpt.com/g/g-bo0FiWLY7", "g-bo0FiWLY7", None),
    ("https://chatgpt.com/g/g-bo0FiWLY7-researchgpt/c/67ab12cd-0000", "g-bo0FiWLY7", "Researchgpt"),
    ("g-bo0FiWLY7", "g-bo0FiWLY7", None),
    ("gpt-4-gizmo-g-bo0FiWLY7", "g-bo0FiWLY7", None),
]

UNREADABLE = [
    ("https://example.com/g/g-bo0FiWLY7-researchgpt", "host must be chatgpt.com or chat.openai.com"),
    ("https://chatgpt.com/c/67ab12cd-0000-4000", "not to a GPT"),
    ("g-bo0FiW_LY7", "after 'g-' come letters and digits only"),
    ("gpt-4o", "neither a GPT link nor a g-... id"),
    ("https://chatgpt.com/g/researchgpt", "is not a GPT id"),
]


@pytest.mark.parametrize(("value", "gizmo_id", "name"), URL_FORMS)
def test_gpt_forms_derive_the_gizmo_model(value: str, gizmo_id: str, name: str | None) -> None:
    ref = parse_gpt(value)
    assert (ref.gizmo_id, ref.name, ref.model) == (gizmo_id, name, f"gpt-4-gizmo-{gizmo_id}")


def _config(path: Path, base_url: str, agent: str) -> Path:
    path.write_text(
        f'[backends.gpts]\nkind = "openai"\napi_key = "sandbox-key"\nbase_url = "{base_url}"\n'
        f'[[agents]]\nname = "research"\nbackend = "gpts"\n{agent}\n'
    )
    return path


def _check_config(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", "check-config", "--offline", "--config", str(config)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("value", "gizmo_id", "name"), URL_FORMS[:3] + URL_FORMS[-1:])
def test_check_config_shows_the_derived_model(tmp_path: Path, value: str, gizmo_id: str, name: str | None) -> None:
    result = _check_config(_config(tmp_path / "c.toml", "https://proxy.example/v1", f'gpt = "{value}"'))
    assert result.returncode == 0, result.stderr
    assert f"agent research: openai custom GPT {value} (model gpt-4-gizmo-{gizmo_id})" in result.stdout


@pytest.mark.parametrize(("value", "explanation"), UNREADABLE)
def test_check_config_explains_a_gpt_it_cannot_read(tmp_path: Path, value: str, explanation: str) -> None:
    result = _check_config(_config(tmp_path / "c.toml", "https://proxy.example/v1", f'gpt = "{value}"'))
    assert result.returncode == 2
    assert "agents[0].gpt:" in result.stderr
    assert explanation in result.stderr
    assert "https://chatgpt.com/g/g-bo0FiWLY7-researchgpt" in result.stderr  # says what to write instead


@pytest.mark.parametrize(
    ("agent", "explanation"),
    [
        ('model = "gpt-4o"\ngpt = "g-bo0FiWLY7"', "give either model or gpt"),
        ("", "agents[0].model: required for a openai backend"),
    ],
)
def test_model_and_gpt_together_or_neither(tmp_path: Path, agent: str, explanation: str) -> None:
    result = _check_config(_config(tmp_path / "c.toml", "https://proxy.example/v1", agent))
    assert result.returncode == 2
    assert explanation in result.stderr


def test_gpt_on_another_kind_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[backends.cg]\napi_key = "k"\n[[agents]]\nname = "a"\nbackend = "cg"\nproject_id = 1\ngpt = "g-x1"\n'
    )
    result = _check_config(config)
    assert result.returncode == 2
    assert "agents[0].gpt: not used by a customgpt backend" in result.stderr


@pytest.mark.anyio
async def test_a_custom_gpt_by_link_answers_through_the_bridge(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = _config(
        tmp_path / "gpt.toml", f"{sandbox.url}/v1", 'gpt = "https://chatgpt.com/g/g-demo-northwind-helper"'
    )
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message:
            pieces.append(message)

    sandbox.reset_stats()
    async with stdio_bridge(env={}, config=config) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        first = await client.call_tool("ask", {"question": "How do I restore a deleted file?"})
        assert isinstance(first.structured_content, dict), first.content
        follow_up = await client.call_tool(
            "ask",
            {"question": "And on the Pro plan?", "conversation_id": first.structured_content["conversation_id"]},
            progress_callback=on_progress,
        )
    assert tools["ask"].title == "Ask Northwind Helper"
    assert not first.is_error and not follow_up.is_error
    assert "Show deleted files" in first.structured_content["answer"]
    assert isinstance(follow_up.structured_content, dict)
    assert "".join(pieces) == follow_up.structured_content["answer"]
    assert sandbox.stats()["requests"]["/v1/chat/completions"] == 2


@pytest.mark.anyio
async def test_an_unknown_gpt_is_a_tool_error_naming_the_cause(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = _config(tmp_path / "gpt.toml", f"{sandbox.url}/v1", 'gpt = "g-n0tThere"')
    async with stdio_bridge(env={}, config=config) as client:
        result = await client.call_tool("ask", {"question": "hello"})
    text = " ".join(c.text for c in result.content if isinstance(c, types.TextContent))
    assert result.is_error
    assert "the upstream does not know model 'gpt-4-gizmo-g-n0tThere' (HTTP 404)" in text


@pytest.mark.anyio
async def test_custom_gpt_faults_become_tool_errors(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config = _config(tmp_path / "gpt.toml", f"{sandbox.url}/v1", 'gpt = "g-demo"')
    sandbox.arm_fault("rate-limit", path="^/v1/chat/completions$")
    sandbox.arm_fault("truncate", path="^/v1/chat/completions$")
    sandbox.arm_fault("server-error", path="^/v1/chat/completions$")

    async def ignore(progress: float, total: float | None, message: str | None) -> None:
        return None

    async with stdio_bridge(env={}, config=config) as client:
        limited = await client.call_tool("ask", {"question": "How do I restore a deleted file?"})
        cut = await client.call_tool("ask", {"question": "How do I restore a deleted file?"}, progress_callback=ignore)
        failed = await client.call_tool("ask", {"question": "How do I restore a deleted file?"})
        fine = await client.call_tool("ask", {"question": "How do I restore a deleted file?"})

    def text(result: types.CallToolResult) -> str:
        return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))

    assert limited.is_error and "retry after 30 seconds" in text(limited)
    assert "Rate limit reached" in text(limited)  # OpenAI's own words came through
    assert cut.is_error and "ended before [DONE]" in text(cut)
    assert failed.is_error and "the upstream failed (HTTP 500" in text(failed)
    assert not fine.is_error
