"""Regression: no id a client sends can steer the bridge's upstream requests out of the agent's project.

A real bridge (agents support = project 1, hr = project 2) in front of the sandbox, driven with the MCP
Python SDK over Streamable HTTP on /agents/support/mcp. Hypothesis generates `conversation_id`s (dots,
slashes, percent-encodings, `?`, `#`, backslashes, unicode, CR/LF, up to 300 characters, plus known
traversals) for `ask` and for the conversation and citation resources. After each example every raw path
the sandbox received must lie under `/api/v1/projects/1`, both as sent and as an upstream that
percent-decodes and removes dot segments would see it (see the Trust rules in DESIGN.md).
"""

from __future__ import annotations

import posixpath
from collections.abc import Generator
from dataclasses import dataclass, field
from urllib.parse import unquote

import anyio
import httpx2
import mcp_types as types
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

PREFIX = "/api/v1/projects/1"
OTHER_PROJECT = "/api/v1/projects/2"
QUESTION = "How long are backups kept?"
NASTY_IDS = (
    "../../2/conversations#",
    "../../../../../api/v1/user#",
    "..",
    "%2e%2e",
    "a/../../2",
    "x?y=1#",
    "a#b",
)
PIECES = (
    ".",
    "..",
    "/",
    "\\",
    "?",
    "#",
    "%",
    "&",
    "=",
    ";",
    "%2e",
    "%2E",
    "%2f",
    "%2F",
    "%2e%2e%2f",
    "%252e%252e%252f",
    "%5c",
    "%3f",
    "%23",
    "%00",
    "\r\n",
    "\n",
    "\t",
    " ",
    "2",
    "api",
    "v1",
    "projects",
    "conversations",
    "user",
    "\uff0e",  # fullwidth full stop
    "\u2025",  # two dot leader
    "\u2215",  # division slash
    "é",
    "😀",
)
SEGMENTS = (  # ".." and its encodings weighted up: each is one step towards leaving the project
    "..",
    "..",
    "..",
    "%2e%2e",
    "%2E.",
    ".",
    "\uff0e\uff0e",
    "",
    "2",
    "api",
    "v1",
    "projects",
    "conversations",
    "user",
)
SEPARATORS = ("/", "/", "%2f", "%2F", "\\", "%5c", "//")
SUFFIXES = ("", "#", "?", "?x=1#", "%23", "%3f", "/messages#", "\r\n")


def _traversal(segments: list[str], separator: str, suffix: str) -> str:
    return separator.join(segments) + suffix


traversals = st.builds(
    _traversal,
    st.lists(st.sampled_from(SEGMENTS), min_size=2, max_size=10),
    st.sampled_from(SEPARATORS),
    st.sampled_from(SUFFIXES),
)
conversation_ids = st.one_of(
    st.sampled_from(NASTY_IDS),
    traversals,
    st.lists(st.one_of(st.sampled_from(PIECES), st.characters(codec="utf-8")), max_size=40).map("".join),
    st.text(st.characters(codec="utf-8"), max_size=300),
    st.text(st.sampled_from("./\\%2ef?#a"), min_size=120, max_size=300),
)


def _inside(raw: str) -> bool:
    """RAW (a path as the sandbox logged it, maybe with ?query) stays in project 1, as sent and as a server
    that percent-decodes it once and removes dot segments would route it."""
    path = raw.split("?", 1)[0]
    decoded = posixpath.normpath(unquote(path, errors="replace"))
    return all(p == PREFIX or p.startswith(PREFIX + "/") for p in (path, decoded))


def _outside(paths: dict[str, int]) -> list[str]:
    return sorted(p for p in paths if not _inside(p))


@dataclass(slots=True)
class Outcome:
    ask: types.CallToolResult | str | None = None  # the result, or the MCPError's message
    resources: dict[str, str] = field(default_factory=dict[str, str])  # uri -> "ok" or the error


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("security") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


async def _probe(bridge: BridgeProcess, conversation_id: str | None, resources: bool) -> Outcome:
    """`ask` with CONVERSATION_ID (None: a new conversation) on /agents/support/mcp and (if RESOURCES) read
    the conversation and citation resources named by it; errors are outcomes, not failures."""
    outcome = Outcome()
    with anyio.fail_after(30):
        async with (
            httpx2.AsyncClient(headers=bridge.auth(), timeout=30) as http,
            Client(streamable_http_client(f"{bridge.url}/agents/support/mcp", http_client=http)) as client,
        ):
            try:
                arguments = {"question": QUESTION}
                if conversation_id is not None:
                    arguments["conversation_id"] = conversation_id
                outcome.ask = await client.call_tool("ask", arguments)
            except MCPError as exc:
                outcome.ask = str(exc)
            if resources:
                for kind in ("citations", "conversations"):
                    uri = f"agent://support/{kind}/{conversation_id}"
                    try:
                        await client.read_resource(uri)
                        outcome.resources[uri] = "ok"
                    except MCPError as exc:
                        outcome.resources[uri] = str(exc)
    return outcome


def _run(
    bridge: BridgeProcess, sandbox: SandboxProcess, conversation_id: str | None, resources: bool = True
) -> Outcome:
    sandbox.reset_stats()
    outcome = anyio.run(_probe, bridge, conversation_id, resources)
    outside = _outside(sandbox.stats()["paths"])
    assert not outside, f"conversation_id {conversation_id!r} reached {outside} upstream; outcome: {outcome}"
    return outcome


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conversation_id=conversation_ids)
@example(conversation_id="../../2/conversations#")
@example(conversation_id="..%2f..%2f2%2fconversations#")
def test_no_conversation_id_leaves_the_agents_project(
    bridge: BridgeProcess, sandbox: SandboxProcess, conversation_id: str
) -> None:
    _run(bridge, sandbox, conversation_id)


@pytest.mark.parametrize("conversation_id", NASTY_IDS)
def test_known_traversals_are_refused(bridge: BridgeProcess, sandbox: SandboxProcess, conversation_id: str) -> None:
    sandbox.reset_stats()
    outcome = anyio.run(_probe, bridge, conversation_id, False)
    paths = sandbox.stats()["paths"]
    assert not [p for p in paths if p.startswith(OTHER_PROJECT) or posixpath.normpath(p).startswith(OTHER_PROJECT)]
    assert not _outside(paths), paths
    result = outcome.ask
    assert isinstance(result, types.CallToolResult), result
    assert result.is_error, result.content
    text = " ".join(c.text for c in result.content if isinstance(c, types.TextContent))
    assert "conversation_id" in text, text


def test_the_path_log_sees_the_bridges_requests(bridge: BridgeProcess, sandbox: SandboxProcess) -> None:
    """The checks above are not vacuous: the bridge's requests for a real conversation reach the sandbox
    and are logged, and a follow-up with the conversation_id it returned stays in project 1 too."""
    first = _run(bridge, sandbox, None, resources=False)
    assert isinstance(first.ask, types.CallToolResult) and not first.ask.is_error, first.ask
    assert isinstance(first.ask.structured_content, dict)
    conversation_id = str(first.ask.structured_content["conversation_id"])
    paths = sandbox.stats()["paths"]
    assert f"{PREFIX}/conversations" in paths
    assert any(p.startswith(f"{PREFIX}/conversations/") for p in paths), paths
    follow_up = _run(bridge, sandbox, conversation_id)
    assert isinstance(follow_up.ask, types.CallToolResult) and not follow_up.ask.is_error, follow_up.ask
    paths = sandbox.stats()["paths"]  # the upstream session id need not be the conversation_id itself
    assert any(p.startswith(f"{PREFIX}/conversations/") and p.endswith("/messages") for p in paths), paths
