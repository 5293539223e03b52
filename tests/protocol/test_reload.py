"""Live agent lists: `agent-bridge reload` (SIGHUP) makes a running bridge serve its edited configuration
without dropping sessions or calls in flight; an unusable configuration is refused with the reason and
the old one keeps serving. Clients hear about it: `notifications/*/list_changed` on a 2025-era session,
a `subscriptions/listen` event at 2026-07-28."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import running_bridge_logging_to, write_http_config
from tests.support.sandbox_process import SandboxProcess

pytestmark = pytest.mark.anyio

SUPPORT = ("support", 1, "Northwind Support")
HR = ("hr", 2, "Acme HR")
STATEFUL = ["stateless = false"]  # 2025-era sessions the bridge can notify
MESSAGES = r"/conversations/[^/]+/messages$"
WAIT = 30.0


def _configure(path: Path, sandbox: SandboxProcess, *agents: tuple[str, int, str]) -> None:
    write_http_config(path, sandbox.url, tokens=False, extra_server=STATEFUL, agents=agents)


def _reload(pid_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_server", "reload", "--pid-file", str(pid_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "reload" in done.stdout


async def _names(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}


async def test_reload_adds_and_removes_agents_while_clients_listen(sandbox: SandboxProcess, tmp_path: Path) -> None:
    config, log, pid_file = tmp_path / "bridge.toml", tmp_path / "bridge.log", tmp_path / "bridge.pid"
    _configure(config, sandbox, SUPPORT)
    changed: list[str] = []
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        method = getattr(message, "method", None)
        if isinstance(method, str) and method.endswith("/list_changed"):
            changed.append(method)
            heard.set()

    with running_bridge_logging_to(config, log, "info", ["--pid-file", str(pid_file)]) as bridge:
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(
                streamable_http_client(f"{bridge.url}/mcp", http_client=http), mode="legacy", message_handler=on_message
            ) as legacy,
            httpx2.AsyncClient(timeout=60) as http_modern,
            Client(streamable_http_client(f"{bridge.url}/mcp", http_client=http_modern), mode="2026-07-28") as modern,
        ):
            assert legacy.server_capabilities.tools and legacy.server_capabilities.tools.list_changed
            assert await _names(legacy) == {"ask", "search_citations", "list_sources"}
            events: list[object] = []
            answers: list[types.CallToolResult] = []
            async with modern.listen(tools_list_changed=True, prompts_list_changed=True) as subscription:
                async with anyio.create_task_group() as calls:
                    # A call in flight across the reload: the upstream takes 3 s to answer it.
                    sandbox.arm_fault("latency", count=1, path=MESSAGES, latency=3.0)

                    async def ask() -> None:
                        answers.append(await legacy.call_tool("ask", {"question": "How long are backups kept?"}))

                    calls.start_soon(ask)
                    await anyio.sleep(0.5)
                    _configure(config, sandbox, SUPPORT, HR)
                    _reload(pid_file)
                    with anyio.fail_after(WAIT):
                        await heard.wait()
                        async for event in subscription:
                            events.append(event)
                            break
                assert answers and not answers[0].is_error, answers  # the call in flight was not dropped
            assert {type(e).__name__ for e in events} & {"ToolsListChanged", "PromptsListChanged"}
            assert "notifications/tools/list_changed" in changed and "notifications/prompts/list_changed" in changed
            both = await _names(legacy)  # the same session, now two agents: names are prefixed
            assert {"support_ask", "hr_ask", "hr_list_sources"} <= both
            assert {p.name for p in (await modern.list_prompts()).prompts} >= {"support_ask", "hr_ask"}

            # An unusable configuration is refused with its reason; the running one keeps serving.
            config.write_text(config.read_text() + "\nnot_a_setting = 1\n")
            heard = anyio.Event()
            _reload(pid_file)
            for _ in range(int(WAIT * 10)):  # the bridge logs the refusal (nothing else tells)
                if "reload refused" in log.read_text():
                    break
                await anyio.sleep(0.1)
            assert "reload refused" in log.read_text() and "not_a_setting" in log.read_text()
            assert await _names(legacy) == both

            # Removing an agent: the session hears again and sees one agent's tools.
            _configure(config, sandbox, SUPPORT)
            _reload(pid_file)
            with anyio.fail_after(WAIT):
                await heard.wait()
            assert await _names(legacy) == {"ask", "search_citations", "list_sources"}
    assert "removed: hr" in log.read_text()
    assert not pid_file.exists()  # serve removes its pid file when it stops


def test_reload_without_a_bridge_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_server", "reload", "--pid-file", str(tmp_path / "none.pid")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "no such pid file" in done.stderr
