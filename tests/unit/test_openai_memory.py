"""The conversations an OpenAI-compatible backend keeps in memory: bounded, and fair between callers."""

from __future__ import annotations

import httpx2
import pytest

from mcp_server.backends import openai
from mcp_server.backends.openai import OpenAIBackend
from mcp_server.errors import UpstreamNotFoundError
from mcp_server.upstream import UpstreamClient

pytestmark = pytest.mark.anyio


def _backend() -> tuple[OpenAIBackend, UpstreamClient]:
    def complete(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"id": "c1", "choices": [{"message": {"role": "assistant", "content": "ok"}}]})

    client = UpstreamClient("http://upstream.test/v1", "k", transport=httpx2.MockTransport(complete))
    return OpenAIBackend(client.scoped(openai.COMPLETIONS_PATH), {"model": "m"}, "m"), client


async def test_one_caller_cannot_push_out_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai, "MAX_CONVERSATIONS_PER_CALLER", 3)
    monkeypatch.setattr(openai, "MAX_CONVERSATIONS", 10)
    backend, client = _backend()
    alice = (await backend.ask("hello", None, None, caller="alice")).conversation_id
    flood = [(await backend.ask("spam", None, None, caller="mallory")).conversation_id for _ in range(20)]
    await backend.ask("again", alice, None, caller="alice")  # alice's conversation is still there
    for gone in flood[:-3]:
        with pytest.raises(UpstreamNotFoundError):
            await backend.transcript(gone)
    kept = [await backend.transcript(c) for c in flood[-3:]]
    await client.aclose()
    assert len((await backend.transcript(alice)).messages) == 2
    assert all(len(t.messages) == 1 for t in kept)


async def test_the_whole_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai, "MAX_CONVERSATIONS_PER_CALLER", 100)
    monkeypatch.setattr(openai, "MAX_CONVERSATIONS", 5)
    backend, client = _backend()
    ids = [(await backend.ask("q", None, None, caller=f"caller-{i}")).conversation_id for i in range(8)]
    await client.aclose()
    with pytest.raises(UpstreamNotFoundError):
        await backend.transcript(ids[0])
    assert (await backend.transcript(ids[-1])).messages
    assert len(backend._owners) == 5  # callers whose conversations all went are forgotten too
