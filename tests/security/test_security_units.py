"""Fast tests of the security walls, one function each: the upstream path guard, the conversation
seal, the upstream-message sanitiser and the session-id log filter."""

from __future__ import annotations

import json
import logging

import pytest

from mcp_server.conversations import ConversationSeal, derive_key
from mcp_server.errors import UpstreamPathError
from mcp_server.ids import is_conversation_id, segment
from mcp_server.log_redaction import SessionIdFilter
from mcp_server.upstream import UpstreamClient
from mcp_server.upstream_answers import Answer, sanitised, status_error
from tests.support.scripted_upstream import json_reply, scripted_upstream

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "path",
    [
        "api/v1/projects/1/conversations/../../2/conversations",
        "api/v1/projects/1/conversations/%2e%2e/%2E%2E/2",
        "api/v1/projects/1/conversations/a%2Fb/messages",
        "api/v1/projects/1/conversations/x?y=1",
        "api/v1/projects/1/conversations/x#frag",
        "api/v1/projects/1/./settings",
        "api/v1/projects/1//settings",
        "api/v1/projects/12/settings",  # a longer id is another project, not a sub-path
        "api/v1/user",
        "api/v1/projects/1/conversations/a\\b",
        "api/v1/projects/1/conversations/\u00e9",
    ],
)
async def test_the_path_guard_refuses_and_sends_nothing(path: str) -> None:
    async with scripted_upstream(json_reply({"status": "success", "data": {}})) as up:
        client = UpstreamClient(up.url, "operator-key")
        scoped = client.scoped("api/v1/projects/1")
        with pytest.raises(UpstreamPathError, match="nothing was sent"):
            await scoped.get_json(path)
        with pytest.raises(UpstreamPathError):
            await scoped.post_json(path, {})
        with pytest.raises(UpstreamPathError):
            async with scoped.stream_events(path, {}):
                pytest.fail("no stream outside the prefix")
        await client.aclose()
    assert up.requests == []


async def test_the_path_guard_lets_the_agents_own_paths_through_under_the_base_path() -> None:
    async with scripted_upstream(json_reply({"status": "success", "data": {}})) as up:
        client = UpstreamClient(f"{up.url}/base/", "operator-key")
        scoped = client.scoped("api/v1/projects/1", api_key="caller-key")
        await scoped.get_json("/api/v1/projects/1")
        await scoped.get_json(f"api/v1/projects/1/conversations/{segment('f9b27f03-c660')}/messages")
        await scoped.get_json(f"api/v1/projects/1/conversations/{segment('a~b')}%2D1")  # sent as encoded
        await client.aclose()
    assert [r.path for r in up.requests] == [
        "/base/api/v1/projects/1",
        "/base/api/v1/projects/1/conversations/f9b27f03-c660/messages",
        "/base/api/v1/projects/1/conversations/a~b%2D1",
    ]


def test_segments_are_percent_encoded() -> None:
    assert segment("../2?x#y") == "..%2F2%3Fx%23y"
    assert segment(12) == "12"


def test_a_sealed_conversation_opens_only_for_its_principal_and_agent() -> None:
    seal = ConversationSeal(derive_key(["upstream-key"]))
    sealed = seal.seal("token:alice", "support", "f9b27f03-c660-4e90-a5af-95278b61f350")
    assert is_conversation_id(sealed)
    assert seal.open("token:alice", "support", sealed) == "f9b27f03-c660-4e90-a5af-95278b61f350"
    assert seal.open("token:bob", "support", sealed) is None
    assert seal.open("token:alice", "hr", sealed) is None
    assert seal.open("token:alice", "support", "f9b27f03-c660-4e90-a5af-95278b61f350") is None
    assert seal.open("token:alice", "support", sealed[:-1] + ("0" if sealed[-1] != "0" else "1")) is None
    other_key = ConversationSeal(derive_key(["another-key"]))
    assert other_key.open("token:alice", "support", sealed) is None
    with pytest.raises(ValueError, match="out of shape"):
        seal.seal("token:alice", "support", "../2")


@pytest.mark.parametrize(
    ("said", "kept", "gone"),
    [
        ("Incorrect API key provided: sk-abc***xyz. Find your key", "Incorrect API key provided:", "sk-abc"),
        ("API Token is either missing or invalid 1234|AbCdEf0123456789xyz", "API Token is", "1234|AbCd"),
        ("line one\r\nline two\x00", "line one line two", "\n"),
    ],
)
def test_upstream_messages_are_sanitised(said: str, kept: str, gone: str) -> None:
    text = sanitised(said)
    assert kept in text and gone not in text
    assert len(sanitised("word " * 100)) <= 160


def test_an_upstream_401_never_quotes_the_upstream() -> None:
    said = {"error": {"message": "Incorrect API key provided: sk-live-1234abcd5678"}}
    error = status_error(Answer(401, json.dumps(said).encode()))
    assert "sk-live" not in str(error) and "HTTP 401" in str(error)


def test_session_ids_are_hashed_in_log_lines() -> None:
    record = logging.LogRecord(
        "mcp.server", logging.INFO, __file__, 1, "Created new transport with session ID: %s", ("0f" * 16,), None
    )
    assert SessionIdFilter().filter(record)
    message = record.getMessage()
    assert "0f" * 16 not in message and "session#" in message
