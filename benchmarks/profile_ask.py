"""Where the bridge's CPU goes on the hot path: `py-spy` samples `agent-bridge serve` while the load
generator repeats the benchmark's `ask` call, then prints the functions with the most samples.

    .venv/bin/python benchmarks/profile_ask.py [--protocol 2025-11-25] [--concurrency 8] [--seconds 10]

`py-spy` (PyPI) must be installed in the environment (`pip install py-spy`); it runs as root here.
The bridge runs pinned to the server core as in `run.py`; the sandbox, the generator and py-spy on the
client core. Output: the top functions by own samples ("self") and by samples with the function
anywhere on the stack ("total"), as shares of all samples; `--raw FILE` keeps py-spy's collapsed
stacks for a flame graph.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

import stack
import wire
from load import run_load
from procs import CLIENT_CORE, pin_self_to_client_core


def _collapsed_to_shares(text: str) -> tuple[Counter[str], Counter[str], int]:
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        frames, _, count_text = line.rpartition(" ")
        if not frames or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        names = [frame.split(" (")[0] + " (" + frame.rsplit("/", 1)[-1] for frame in frames.split(";")]
        own[names[-1]] += count
        for name in set(names):
            anywhere[name] += count
    return own, anywhere, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", default="2025-11-25", choices=wire.PROTOCOLS)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--raw", type=Path, help="also write py-spy's collapsed stacks here")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    pin_self_to_client_core()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = stack.write_corpus(work / "corpus")
        with stack.running_sandbox(corpus) as upstream:
            config = stack.write_bridge_config(work / "bridge.toml", upstream.url)
            server = stack.bridge(config)
            with stack.serving(server) as process:
                url = process.url + server.mcp_path
                call = wire.ask_call("bridge", url, wire.new_bridge_conversation(url), args.protocol)
                wire.check_answer(call)
                run_load(call, args.concurrency, 1.0)  # warm-up
                raw = work / "stacks.txt"
                record = [
                    *("taskset", "-c", str(CLIENT_CORE), py_spy, "record", "--nonblocking", "--format", "raw"),
                    *("--rate", "250", "--duration", f"{args.seconds:g}", "--pid", str(process.pid), "-o", str(raw)),
                ]
                spy = threading.Thread(target=subprocess.run, args=(record,), kwargs={"capture_output": True})
                spy.start()
                result = run_load(call, args.concurrency, args.seconds)
                spy.join()
        text = raw.read_text()
    if args.raw:
        args.raw.write_text(text)
    own, anywhere, total = _collapsed_to_shares(text)
    print(f"{result.per_second:.0f} calls/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; {total} samples")
    for title, counts in (("self", own), ("total", anywhere)):
        print(f"\n{title:>6}  function")
        for name, count in counts.most_common(args.top):
            print(f"{100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
