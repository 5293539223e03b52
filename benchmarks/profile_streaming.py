"""Where the bridge's CPU goes on the streaming path: `py-spy` samples `agent-bridge serve` while N
streamed `ask` calls (progress tokens, a stamping slow-drip sandbox) run, as in `part_streaming.py`.

    .venv/bin/python benchmarks/profile_streaming.py [--streams 1000] [--drip 0.2] [--seconds 10]

Needs py-spy (`.venv/bin/pip install py-spy`). The bridge is pinned to the server core; the sandbox,
the client and py-spy to the client core. Sampling starts 3 s into the calls (past their set-up) and
lasts `--seconds`; output as `profile_ask.py`: top functions by own and total samples.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import part_streaming
import stack
import wire
from part_memory import raise_open_file_limit
from procs import SERVER_CORE, pin_self_to_client_core
from profile_ask import _collapsed_to_shares  # pyright: ignore[reportPrivateUsage]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--drip", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--spread", type=float, default=0.0, help="spread the calls' starts over this many seconds")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--raw", type=Path, help="also write py-spy's collapsed stacks here")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    pin_self_to_client_core()
    raise_open_file_limit(4 * args.streams + 1000)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = stack.write_corpus(work / "corpus")
        with stack.running_sandbox(corpus, drip=args.drip, stamp=True) as upstream:
            config = stack.write_bridge_config(
                work / "bridge.toml", upstream.url, sessions=args.streams, upstream_connections=args.streams
            )
            server = stack.bridge(config)
            with stack.serving(server) as process:
                url = process.url + server.mcp_path
                call = part_streaming.bridge_stream(url, wire.new_bridge_conversation(url))
                raw = work / "stacks.txt"
                record = [
                    *("taskset", "-c", str(SERVER_CORE), py_spy, "record", "--nonblocking", "--format", "raw"),
                    *("--rate", "250", "--duration", f"{args.seconds:g}", "--pid", str(process.pid), "-o", str(raw)),
                ]

                def spy() -> None:
                    time.sleep(3.0)
                    subprocess.run(record, capture_output=True, check=False)

                spying = threading.Thread(target=spy)
                spying.start()
                result = part_streaming.measure(call, args.streams, process, args.spread)
                spying.join()
        text = raw.read_text()
    if args.raw:
        args.raw.write_text(text)
    own, anywhere, total = _collapsed_to_shares(text)
    row = part_streaming.row(server.name, args.drip, args.streams, result)
    print(f"lag p50 {row[6]} ms, p99 {row[7]} ms, server CPU {row[10]} us per piece; {total} samples")
    for title, counts in (("self", own), ("total", anywhere)):
        print(f"\n{title:>6}  function")
        for name, count in counts.most_common(args.top):
            print(f"{100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
