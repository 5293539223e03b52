"""The shared store's implementations against a real Valkey server: what one connection (one replica)
writes, another reads; keys are namespaced and expire; a store that is down gives one clear sentence
on the calls that need it and is a plain cache miss on those that do not."""

from __future__ import annotations

import time

import anyio
import pytest
import redis

from mcp_server.actions.failures import Failure
from mcp_server.actions.shared_answers import SharedAnswers
from mcp_server.errors import Refusal, StoreUnavailableError
from mcp_server.operations.models import AskResult
from mcp_server.store import SharedCache, SharedConversationStore, SharedStore, StoredConversation, Turn, open_state
from tests.support.engines import ValkeyProcess

pytestmark = pytest.mark.anyio


def keys(valkey: ValkeyProcess) -> list[str]:
    with redis.Redis(port=valkey.port) as client:
        return sorted(str(k, "utf-8") if isinstance(k, bytes) else str(k) for k in client.keys("*"))


def ttl_ms(valkey: ValkeyProcess, key: str) -> int:
    with redis.Redis(port=valkey.port) as client:
        return int(client.pttl(key))


async def test_a_conversation_saved_by_one_replica_is_loaded_by_another(valkey: ValkeyProcess) -> None:
    async with open_state(valkey.url) as one, open_state(valkey.url) as two:
        conversation = StoredConversation((Turn("What is the refund window?", "30 days."),), time.time())
        await one.conversations.save("support\0c1", conversation, owner="token:alice", keep_seconds=60)
        assert await two.conversations.load("support\0c1") == conversation
        assert await two.conversations.load("support\0other") is None
    stored = keys(valkey)
    assert all(k.startswith("agent-bridge:") for k in stored)
    assert not any("alice" in k or "c1" in k for k in stored)  # opaque digests, not principals or ids
    conversation_key = next(k for k in stored if k.startswith("agent-bridge:conversation:"))
    assert 50_000 < ttl_ms(valkey, conversation_key) <= 60_000  # expires with the memory's idle age


async def test_an_owner_keeps_only_its_newest_conversations(valkey: ValkeyProcess) -> None:
    store = SharedStore(valkey.url)
    try:
        conversations = SharedConversationStore(store, max_per_owner=2)
        for n in range(3):
            turn = StoredConversation((Turn(f"q{n}", f"a{n}"),), time.time() + n)
            await conversations.save(f"k{n}", turn, owner="token:bob", keep_seconds=60)
        other = StoredConversation((Turn("q", "a"),), time.time())
        await conversations.save("other", other, owner="token:carol", keep_seconds=60)
        assert await conversations.load("k0") is None
        assert await conversations.load("k1") is not None
        assert await conversations.load("k2") is not None
        assert await conversations.load("other") is not None
    finally:
        await store.aclose()


async def test_a_cache_is_shared_and_a_store_outage_is_a_miss(valkey: ValkeyProcess) -> None:
    store = SharedStore(valkey.url)
    try:
        cache = SharedCache(store, "citation", "customgpt\0support", 600)
        await cache.put_many({"7": {"id": "7", "title": "Refunds"}})
        assert await SharedCache(store, "citation", "customgpt\0support", 600).get_many(["7", "8"]) == {
            "7": {"id": "7", "title": "Refunds"}
        }
        assert await SharedCache(store, "citation", "customgpt\0hr", 600).get_many(["7"]) == {}
        valkey.stop()
        assert await cache.get_many(["7"]) == {}  # no error: the caller fetches from the upstream
        await cache.put_many({"8": {"id": "8"}})
    finally:
        await store.aclose()


async def test_an_outage_is_one_clear_sentence_and_the_store_recovers(valkey: ValkeyProcess) -> None:
    async with open_state(valkey.url) as state:
        valkey.stop()
        with pytest.raises(StoreUnavailableError) as caught:
            await state.conversations.load("k")
        message = str(caught.value)
        assert f"Valkey/Redis at 127.0.0.1:{valkey.port}/0" in message
        assert "check that it is running" in message
        valkey.start()
        assert await state.conversations.load("k") is None  # the same connection pool reconnects


def answers(store: SharedStore, cap: int = 5) -> SharedAnswers:
    return SharedAnswers(store, ttl_seconds=60, max_per_principal=cap, deadline_seconds=30)


async def test_an_answer_produced_on_one_replica_is_continued_on_another(valkey: ValkeyProcess) -> None:
    producer_store, reader_store = SharedStore(valkey.url), SharedStore(valkey.url)
    try:
        producer, reader = answers(producer_store), answers(reader_store)
        answer_id = await producer.open("token:alice", "support")
        await producer.append(answer_id, "Refunds are ")
        state = await reader.wait("token:alice", "support", answer_id, 0.2)
        assert state is not None and state.text == "Refunds are " and not state.finished
        assert await reader.wait("token:mallory", "support", answer_id, 0.1) is None  # someone else's
        assert await reader.wait("token:alice", "hr", answer_id, 0.1) is None  # another agent's

        async def finish_soon() -> None:
            await anyio.sleep(0.3)
            await producer.append(answer_id, "accepted for 30 days.")
            result = AskResult(answer="Refunds are accepted for 30 days.", conversation_id="c1", citations=[])
            await producer.finish(answer_id, result, None)

        async with anyio.create_task_group() as tg:
            tg.start_soon(finish_soon)
            state = await reader.wait("token:alice", "support", answer_id, 10)
        assert state is not None and state.result is not None
        assert state.result.answer == "Refunds are accepted for 30 days."
        assert state.text == "Refunds are accepted for 30 days."

        failed_id = await producer.open("token:alice", "support")
        await producer.finish(failed_id, None, Failure(504, "Agent 'support': no answer.", "upstream_timeout"))
        failed = await reader.wait("token:alice", "support", failed_id, 1)
        assert failed is not None and failed.failure is not None
        assert (failed.failure.status, failed.failure.message, failed.failure.code) == (
            504,
            "Agent 'support': no answer.",
            "upstream_timeout",
        )
    finally:
        await producer_store.aclose()
        await reader_store.aclose()


async def test_the_cap_counts_running_answers_across_replicas(valkey: ValkeyProcess) -> None:
    one, two = SharedStore(valkey.url), SharedStore(valkey.url)
    try:
        first = await answers(one, cap=2).open("token:alice", "support")
        await answers(two, cap=2).open("token:alice", "support")
        with pytest.raises(Refusal) as caught:
            await answers(two, cap=2).open("token:alice", "support")
        assert caught.value.status == 429
        await answers(one, cap=2).open("token:bob", "support")  # another token has its own cap
        await answers(one, cap=2).finish(first, None, Failure(502, "x"))
        await answers(two, cap=2).open("token:alice", "support")
    finally:
        await one.aclose()
        await two.aclose()
