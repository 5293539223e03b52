"""Where the bridge's CPU goes on the streaming path: the bridge runs under cProfile while N streamed
`ask` calls (progress tokens, a stamping slow-drip sandbox) run as in `part_streaming.py`; then the
functions with the most own time.

    .venv/bin/python benchmarks/profile_streaming.py [--streams 1000] [--drip 0.2] [--top 40]

Why cProfile and not py-spy (`profile_ask.py`): here py-spy caught a few dozen samples in 10 s of a
bridge busy a third of the time, whether on the client core or the server core, blocking or not (the
client core is saturated by the sandbox and the client). cProfile counts every call and slows each one
down (about 2x here), so read its figures as shares and call counts, not as times; the lag it prints
is the profiled bridge's, not the bridge's.
"""

from __future__ import annotations

import argparse
import pstats
import tempfile
from dataclasses import replace
from pathlib import Path

import part_streaming
import stack
import wire
from part_memory import raise_open_file_limit
from procs import pin_self_to_client_core


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--drip", type=float, default=0.2)
    parser.add_argument("--spread", type=float, default=0.0, help="spread the calls' starts over this many seconds")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    pin_self_to_client_core()
    raise_open_file_limit(4 * args.streams + 1000)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = stack.write_corpus(work / "corpus")
        stats = work / "bridge.prof"
        with stack.running_sandbox(corpus, drip=args.drip, stamp=True) as upstream:
            config = stack.write_bridge_config(
                work / "bridge.toml", upstream.url, sessions=args.streams, upstream_connections=args.streams
            )
            server = stack.bridge(config)
            python, *rest = server.command
            server = replace(server, command=[python, "-m", "cProfile", "-o", str(stats), *rest])
            with stack.serving(server) as process:  # cProfile writes its file when the bridge exits
                url = process.url + server.mcp_path
                call = part_streaming.bridge_stream(url, wire.new_bridge_conversation(url))
                result = part_streaming.measure(call, args.streams, process, args.spread)
        row = part_streaming.row(server.name, args.drip, args.streams, result)
        print(f"(profiled) lag p50 {row[6]} ms, p99 {row[7]} ms; server CPU {row[11]} us per piece")
        pstats.Stats(str(stats)).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
