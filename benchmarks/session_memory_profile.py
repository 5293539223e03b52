"""Where an idle session's memory goes: tracemalloc in the bridge (benchmarks/README.md, finding 7).

    .venv/bin/python benchmarks/session_memory_profile.py [--transport sse|streamable] [--sessions 300] [--frames 40]

Starts the sandbox and `agent-bridge serve` (stateful, as the memory part does), opens 20 warm-up
sessions of the transport (HTTP+SSE, the default, or stateful Streamable HTTP) as a client would
(`initialize`, `notifications/initialized`), has the bridge start tracemalloc
(keeping FRAMES frames per allocation) and take a snapshot (SIGUSR1), opens N more and takes another,
then prints what the N idle sessions added, per session:

- by package: each allocation counts for the innermost package on its stack that is not the standard
  library or a library every layer uses (anyio, pydantic, opentelemetry): the MCP SDK (`mcp`),
  `sse_starlette`, `uvicorn`, `starlette`, the bridge's own `mcp_server`; an anyio Event that the SDK's
  dispatcher creates counts for `mcp`;
- the top source lines where the memory was allocated;
- live objects of a few types (asyncio Events, Futures, tasks, anyio cancel scopes), counted with `gc`.

tracemalloc counts Python's own allocations: less than the RSS delta of the memory part (allocator
slack, the kernel's socket buffers), but it says who holds what.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType

_SNAPSHOT_ENV = "SESSION_MEMORY_PROFILE_DIR"
_FRAMES_ENV = "SESSION_MEMORY_PROFILE_FRAMES"
_COUNTED = ("asyncio.locks.Event", "_asyncio.Future", "_asyncio.Task", "anyio._backends._asyncio.CancelScope")


def _qualified(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def _serve(argv: list[str]) -> int:
    """The child: the bridge, taking a numbered snapshot (and object counts) on each SIGUSR1; tracing
    starts with the first (imports under tracemalloc would take minutes)."""
    folder = Path(os.environ[_SNAPSHOT_ENV])
    taken = 0

    def snapshot(signum: int, frame: FrameType | None) -> None:
        nonlocal taken
        if not tracemalloc.is_tracing():
            tracemalloc.start(int(os.environ[_FRAMES_ENV]))
        gc.collect()
        counts = Counter(_qualified(obj) for obj in gc.get_objects())
        tracemalloc.take_snapshot().dump(str(folder / f"{taken}.snapshot"))
        (folder / f"{taken}.json").write_text(json.dumps({name: counts[name] for name in _COUNTED}))
        taken += 1

    signal.signal(signal.SIGUSR1, snapshot)
    from mcp_server.cli import main

    return main(argv)


_SHARED_LIBRARIES = frozenset({"anyio", "pydantic", "pydantic_core", "opentelemetry", "typing_extensions"})


def _package(filename: str) -> str | None:
    """`.../site-packages/sse_starlette/sse.py` -> `sse_starlette`; `.../mcp_server/x.py` -> `mcp_server`;
    None for the standard library and the libraries every layer uses (their allocations count for the
    package that called them)."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        package = parts[parts.index("site-packages") + 1].removesuffix(".py")
        return None if package in _SHARED_LIBRARIES else package
    if "mcp_server" in parts:
        return "mcp_server"
    return None


def _stdlib_module(filename: str) -> str:
    parts = Path(filename).parts
    return "/".join(parts[-2:]) if parts[-2] in {"asyncio", "collections", "concurrent"} else parts[-1]


def _report(folder: Path, sessions: int, transport: str) -> None:
    before = tracemalloc.Snapshot.load(str(folder / "0.snapshot"))
    after = tracemalloc.Snapshot.load(str(folder / "1.snapshot"))
    by_package: Counter[str] = Counter()
    for diff in after.compare_to(before, "traceback"):
        frames = list(reversed(diff.traceback))  # innermost first
        owner = next((p for f in frames if (p := _package(f.filename)) is not None), None)
        by_package[owner or f"other ({_stdlib_module(frames[0].filename)})"] += diff.size_diff
    total = sum(by_package.values())
    print(f"\n{sessions} idle {transport} sessions: {total / sessions / 1024:.1f} KiB per session (tracemalloc)\n")
    print("| allocated by (innermost package, shared libraries folded in) | KiB per session |")
    print("|---|---|")
    for name, size in by_package.most_common():
        if abs(size) / sessions >= 16:
            print(f"| {name} | {size / sessions / 1024:.2f} |")
    print("\n| allocated at (line) | KiB per session |")
    print("|---|---|")
    for diff in after.compare_to(before, "lineno")[:20]:
        frame = diff.traceback[0]
        print(
            f"| {'/'.join(Path(frame.filename).parts[-2:])}:{frame.lineno} | {diff.size_diff / sessions / 1024:.2f} |"
        )
    counts = [json.loads((folder / f"{n}.json").read_text()) for n in (0, 1)]
    print("\n| live objects | per session |")
    print("|---|---|")
    for name in _COUNTED:
        print(f"| {name} | {(counts[1][name] - counts[0][name]) / sessions:.1f} |")


def _measure(transport: str, sessions: int, frames: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="session-memory-profile-") as temporary:
        _measure_in(Path(temporary), transport, sessions, frames)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for name in ("0.snapshot", "1.snapshot", "0.json", "1.json"):
                (keep / name).write_bytes((Path(temporary) / "snapshots" / name).read_bytes())


def _measure_in(work: Path, transport: str, sessions: int, frames: int) -> None:
    import anyio
    import httpx2
    import part_memory
    import stack
    from procs import SERVER_CORE, running

    folder = work / "snapshots"
    folder.mkdir()
    part_memory.raise_open_file_limit(4 * sessions + 1000)
    corpus = stack.write_corpus(work / "corpus")
    with stack.running_sandbox(corpus) as upstream:
        config = stack.write_bridge_config(
            work / "bridge.toml", upstream.url, stateless=False, sessions=sessions + 2 * part_memory.WARM_UP
        )
        command = [sys.executable, __file__, "--serve"]
        command += ["serve", "--config", str(config), "--port", "0"]
        with running(
            command, "agent-bridge", core=SERVER_CORE, env={_SNAPSHOT_ENV: str(folder), _FRAMES_ENV: str(frames)}
        ) as bridge:

            def take(number: int) -> None:
                bridge.process.send_signal(signal.SIGUSR1)
                deadline = time.monotonic() + 600
                while not (folder / f"{number}.json").exists():
                    if time.monotonic() > deadline:
                        raise RuntimeError("the bridge took no snapshot")
                    time.sleep(0.2)

            async def measure() -> None:
                if transport == "sse":
                    url, opener = bridge.url + f"/agents/{stack.AGENT}/sse", part_memory._open_sse  # pyright: ignore[reportPrivateUsage]
                else:
                    url, opener = bridge.url + f"/agents/{stack.AGENT}/mcp", part_memory._open_streamable  # pyright: ignore[reportPrivateUsage]
                limits = httpx2.Limits(max_connections=None, max_keepalive_connections=part_memory.OPENING_AT_ONCE)
                async with httpx2.AsyncClient(timeout=120, limits=limits) as client, anyio.create_task_group() as tg:
                    done = anyio.Event()
                    await opener(client, url, part_memory.WARM_UP, tg, done)
                    await anyio.sleep(0.5)
                    await anyio.to_thread.run_sync(take, 0)
                    await opener(client, url, sessions, tg, done)
                    await anyio.sleep(1.0)
                    await anyio.to_thread.run_sync(take, 1)
                    done.set()

            anyio.run(measure)
    _report(folder, sessions, "HTTP+SSE" if transport == "sse" else "stateful Streamable HTTP")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        raise SystemExit(_serve(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", choices=("sse", "streamable"), default="sse", help="which sessions to open")
    parser.add_argument("--sessions", type=int, default=300, help="idle sessions measured (after 20 warm-up ones)")
    parser.add_argument("--frames", type=int, default=40, help="stack frames tracemalloc keeps per allocation")
    parser.add_argument("--keep", type=Path, help="copy the two snapshots (and object counts) to this folder")
    options = parser.parse_args()
    _measure(options.transport, options.sessions, options.frames, options.keep)


if __name__ == "__main__":
    main()
