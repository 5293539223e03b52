"""Before and after: the bridge of this checkout against the bridge of another commit, side by side.

    .venv/bin/python benchmarks/ab_ask.py BASE [--protocols 2025-11-25,2026-07-28] [--concurrency 1,8]
                                               [--runs 3] [--seconds 4]

BASE is any git revision (`HEAD~1`, a commit, a branch). Its tree is checked out into a temporary
worktree and its bridge runs from there, in this environment, beside this checkout's bridge, both on
the server core against one sandbox; the runs are interleaved (as `part_ask.measure` does) so that
other work on a shared machine lands on both alike. Prints the `ask` table of both; CPU per call is the
steadier figure. What `benchmarks/README.md` calls "measured before and after" is this command.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import stack
import wire
from options import Options
from part_ask import Target, measure, report
from procs import ROOT


def _bridge_from(tree: Path, config: Path) -> list[str]:
    """`agent-bridge serve` importing the bridge from TREE (before this environment's editable install)."""
    start = (
        f"import sys; sys.path.insert(0, {str(tree)!r}); sys.argv[0] = 'agent-bridge'; "
        "from mcp_server.cli import main; sys.exit(main())"
    )
    return [sys.executable, "-c", start, "serve", "--config", str(config), "--port", "0"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="the git revision to compare this checkout with")
    parser.add_argument("--protocols", default="2025-11-25,2026-07-28")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ab-ask-") as temporary:
        work = Path(temporary)
        base_tree = work / "base"
        git = ["git", "-C", str(ROOT), "worktree"]
        subprocess.run([*git, "add", "-q", "--detach", str(base_tree), args.base], check=True)
        try:
            options = Options(
                runs=args.runs,
                seconds=args.seconds,
                concurrencies=tuple(int(c) for c in args.concurrency.split(",")),
                sessions=0,
                streams=0,
                upstream_pool=0,
                drip=0.0,
                stdio_spawns=0,
                work=work,
            )
            _compare(options, args.base, base_tree, args.protocols.split(","))
        finally:
            subprocess.run([*git, "remove", "--force", str(base_tree)], check=True)


def _compare(options: Options, base: str, base_tree: Path, protocols: list[str]) -> None:
    corpus = stack.write_corpus(options.work / "corpus")
    with stack.running_sandbox(corpus) as upstream, ExitStack() as servers:
        config = stack.write_bridge_config(options.work / "bridge.toml", upstream.url)
        targets: list[Target] = []
        for name, command in (
            ("agent-bridge (this checkout)", stack.bridge(config).command),
            (f"agent-bridge ({base})", _bridge_from(base_tree, config)),
        ):
            server = stack.Server(name, "bridge", command, f"/agents/{stack.AGENT}/mcp")
            process = servers.enter_context(stack.serving(server))
            url = process.url + server.mcp_path
            conversation = wire.new_bridge_conversation(url)
            targets += [Target(name, p, process.pid, wire.ask_call("bridge", url, conversation, p)) for p in protocols]
        print(report(measure(targets, options), f"ask, this checkout against {base}"))


if __name__ == "__main__":
    main()
