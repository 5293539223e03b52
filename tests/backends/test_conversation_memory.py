"""Conversation memory that ends: bounded by turns, by characters and by idle age (oldest dropped
first), fair between callers, behind the `ConversationStore` interface; and, end to end over stdio,
a follow-up on an expired conversation gets an error that says so and how to start again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest

from mcp_server.backends.chat import COMPLETIONS_PATH
from mcp_server.backends.memory import ConversationMemory
from mcp_server.backends.openai import OpenAIBackend
from mcp_server.errors import NotFoundError
from mcp_server.sandbox.completions import UNSUPPORTED_BY_CUSTOMGPT
from mcp_server.store import ConversationStore, InProcessConversationStore, StoredConversation, Turn
from mcp_server.upstream import UpstreamClient
from tests.support.bridge_stdio import stdio_bridge
from tests.support.sandbox_process import SandboxProcess
from tests.support.scripted_upstream import json_reply, scripted_upstream

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _turns(n: int, size: int = 10) -> tuple[Turn, ...]:
    return tuple(Turn(f"q{i}".ljust(size, "."), f"a{i}".ljust(size, ".")) for i in range(n))


async def test_the_store_satisfies_the_interface() -> None:
    store: ConversationStore = InProcessConversationStore()
    await store.save("k", StoredConversation(_turns(1), 1.0), owner="alice", keep_seconds=60)
    assert await store.load("k") is not None
    assert await store.load("other") is None


async def test_memory_keeps_the_newest_turns_within_the_turn_bound() -> None:
    memory = ConversationMemory(InProcessConversationStore(), max_turns=3)
    await memory.remember("k", "alice", _turns(5))
    assert [t.question[:2] for t in await memory.recall("k")] == ["q2", "q3", "q4"]


async def test_memory_drops_the_oldest_turns_to_fit_the_character_bound() -> None:
    memory = ConversationMemory(InProcessConversationStore(), max_turns=50, max_characters=100)
    # Each turn is 20 characters; a 45-character question leaves room for two of them.
    assert [t.question[:2] for t in memory.fit(_turns(5), 45)] == ["q3", "q4"]
    assert memory.fit(_turns(5), 200) == ()  # a question longer than the bound goes alone


async def test_an_idle_conversation_ends_with_an_error_saying_how_to_start_again() -> None:
    clock = Clock()
    store = InProcessConversationStore(clock=clock)
    memory = ConversationMemory(store, idle_minutes=60, clock=clock)
    await memory.remember("k", "alice", _turns(1))
    clock.now += 59 * 60
    assert await memory.recall("k")  # still live: a follow-up keeps it alive again
    await memory.remember("k", "alice", _turns(2))
    clock.now += 61 * 60
    with pytest.raises(NotFoundError) as ended:
        await memory.recall("k")
    assert "this conversation has ended" in str(ended.value)
    assert "60 minutes after its last question" in str(ended.value)
    assert "without conversation_id to start a new conversation" in str(ended.value)
    assert len(store) == 0  # and it is gone from the store


async def test_one_owner_cannot_push_out_the_others() -> None:
    store = InProcessConversationStore(max_conversations=10, max_per_owner=3)
    memory = ConversationMemory(store)
    await memory.remember("alice-1", "alice", _turns(1))
    for i in range(20):
        await memory.remember(f"mallory-{i}", "mallory", _turns(1))
    assert await memory.peek("alice-1") is not None
    assert [await memory.peek(f"mallory-{i}") is not None for i in range(20)] == [False] * 17 + [True] * 3


async def test_the_whole_store_is_bounded_and_forgets_empty_owners() -> None:
    store = InProcessConversationStore(max_conversations=5, max_per_owner=100)
    memory = ConversationMemory(store)
    for i in range(8):
        await memory.remember(f"k{i}", f"caller-{i}", _turns(1))
    assert await memory.peek("k0") is None
    assert await memory.peek("k7") is not None
    assert len(store) == 5
    assert store.owners() == 5


async def test_the_request_carries_fitted_history_and_nothing_customgpt_refuses() -> None:
    """Unit test of one request body (the wire itself is tested end to end above and in test_openai_api)."""
    completion = {"id": "c1", "choices": [{"message": {"role": "assistant", "content": "ok"}}]}
    async with scripted_upstream(json_reply(completion)) as up:
        client = UpstreamClient(f"{up.url}/v1", "k")
        memory = ConversationMemory(InProcessConversationStore(), max_turns=2)
        backend = OpenAIBackend(client.scoped(COMPLETIONS_PATH), "gpt-4-gizmo-g-x1", "t", memory, "Be brief.")
        first = await backend.ask("one", None, None, caller="alice")
        for question in ("two", "three"):
            await backend.ask(question, first.conversation_id, None, caller="alice")
        await client.aclose()
    sent: list[dict[str, Any]] = [r.json() for r in up.requests]
    assert {r.path for r in up.requests} == {f"/v1/{COMPLETIONS_PATH}"}
    assert all(set(body) == {"model", "messages", "stream"} for body in sent)
    assert not set(sent[-1]) & set(UNSUPPORTED_BY_CUSTOMGPT)
    assert [m["content"] for m in sent[-1]["messages"]] == ["Be brief.", "one", "ok", "two", "ok", "three"]


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


@pytest.mark.parametrize("kind", ["openai", "codegpt"])
async def test_expired_conversation_over_the_bridge(sandbox: SandboxProcess, tmp_path: Path, kind: str) -> None:
    """`conversation_idle_minutes` = 0.05 (3 s): quick follow-ups continue, a late one has ended."""
    target = 'gpt = "g-demo"' if kind == "openai" else 'agent_id = "1"'
    base = f"{sandbox.url}/v1" if kind == "openai" else sandbox.api_url
    config = tmp_path / "memory.toml"
    config.write_text(
        f'[backends.b]\nkind = "{kind}"\napi_key = "sandbox-key"\nbase_url = "{base}"\n'
        "conversation_idle_minutes = 0.05\nconversation_max_turns = 2\n"
        f'[[agents]]\nname = "short"\nbackend = "b"\n{target}\n'
    )
    questions = ["How do I restore a deleted file?", "How long are backups kept?", "What does Pro cost?"]
    async with stdio_bridge(env={}, config=config) as client:
        first = await client.call_tool("ask", {"question": questions[0]})
        assert isinstance(first.structured_content, dict), _text(first)
        conversation = first.structured_content["conversation_id"]
        for question in questions[1:]:
            follow = await client.call_tool("ask", {"question": question, "conversation_id": conversation})
            assert not follow.is_error, _text(follow)
        transcript = await client.read_resource(f"agent://short/conversations/{conversation}")
        settings = await client.read_resource("agent://short/settings")
        await anyio.sleep(3.5)  # the idle age is the event under test
        late = await client.call_tool("ask", {"question": "And on Business?", "conversation_id": conversation})
        fresh = await client.call_tool("ask", {"question": "And on Business?"})
    content = transcript.contents[0]
    assert isinstance(content, types.TextResourceContents)
    assert [m["question"] for m in json.loads(content.text)["messages"]] == questions[1:]  # bounded to 2 turns
    shown = settings.contents[0]
    assert isinstance(shown, types.TextResourceContents)
    assert json.loads(shown.text)["conversation_idle_minutes"] == 0.05
    assert late.is_error
    assert "this conversation has ended" in _text(late)
    assert "Ask again without conversation_id to start a new conversation" in _text(late)
    assert not fresh.is_error
