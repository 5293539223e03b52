"""What the benchmarks run: the sandbox upstream with a corpus sized for the issue's answer, and the
servers compared (Agent Bridge, the FastMCP peer in two settings, the bare proxy), each a real process.

The issue's upstream answers at once with ~1.5 KB and two citations. The sandbox's answer to a question
is its two best passages, and its citations the documents they came from, so `write_corpus` makes two
documents whose one matching passage each is ~740 bytes: `QUESTION` then gets a ~1.5 KB answer citing
both. The corpus is served as project `BENCH_PROJECT` (`--corpus`; the demo corpus is project 1).
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from procs import CLIENT_CORE, ROOT, SERVER_CORE, Running, free_port, running

QUESTION: Final = "How long are backups kept on the Pro plan?"
BENCH_PROJECT: Final = 2
AGENT: Final = "bench"
SPEC: Final = ROOT.parent / "shared" / "upstream" / "customgpt-openapi.json"
BENCHMARKS: Final = Path(__file__).resolve().parent
_FILLER: Final = (
    "Backups on the Pro plan are kept for ninety days, counted from the moment a version is replaced or a file "
    "is deleted, and the latest version of a file that still exists is kept for as long as the plan is active. "
)


def write_corpus(folder: Path) -> Path:
    """Two documents with one ~740-byte passage each about QUESTION, and an unrelated one apiece."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, topic in ((1, "Retention on Pro"), (2, "Pro plan backup schedule")):
        passage = (f"{topic}: " + _FILLER * 4)[:740].rsplit(" ", 1)[0] + "."
        other = "Invoices are sent by email on the first day of each month and can be downloaded as PDF files."
        (folder / f"pro-backups-{n}.md").write_text(f"# {topic}\n\n{passage}\n\n{other}\n")
    return folder


@contextmanager
def running_sandbox(corpus: Path, *, drip: float = 0.0, stamp: bool = False) -> Generator[Running]:
    """The sandbox upstream (benchmarks/sandbox_upstream.py says why not `agent-bridge sandbox`), on the
    client core: the issue puts the upstream beside the load generator. `stamp`: each streamed piece
    starts with its send time (`mcp_server.sandbox.streams.stamped`)."""
    command = [sys.executable, str(BENCHMARKS / "sandbox_upstream.py"), str(free_port()), str(corpus)]
    command += ["--drip", str(drip), *(["--stamp"] if stamp else [])]
    with running(command, "sandbox", core=CLIENT_CORE) as sandbox:
        yield sandbox


def write_bridge_config(
    path: Path, upstream: str, *, stateless: bool = True, sessions: int = 100, upstream_connections: int = 100
) -> Path:
    """One agent on the sandbox's bench project, no tokens and no rate limit (the benchmark measures
    forwarding, not auth or protection; the default limit, 60 calls a minute per caller, would refuse it).
    `sessions` also raises the connection cap; `upstream_connections` is the backend's pool size and its
    bound on concurrent upstream requests."""
    path.write_text(
        "[server]\n"
        'rate_limit = "off"\n'
        f"max_sessions = {max(10_000, sessions + 100)}\n"
        f"stateless = {'true' if stateless else 'false'}\n"
        f"max_sessions_per_token = {sessions}\n"
        f"max_connections = {max(1000, sessions + 100)}\n"
        "[backends.customgpt]\n"
        'api_key = "sandbox-key"\n'
        f'base_url = "{upstream}"\n'
        f"max_connections = {upstream_connections}\n"
        f"max_concurrent_requests = {upstream_connections}\n"
        "[[agents]]\n"
        f'name = "{AGENT}"\n'
        f"project_id = {BENCH_PROJECT}\n"
    )
    return path


@dataclass(frozen=True, slots=True)
class Server:
    """A server under test: how to start it, where its MCP endpoints are, and how to call `ask` on it."""

    name: str
    kind: str  # "bridge", "fastmcp" or "bare": what the ask arguments look like
    command: Sequence[str]
    mcp_path: str
    sse_path: str | None = None


def bridge(config: Path) -> Server:
    command = [sys.executable, "-m", "mcp_server", "serve", "--config", str(config), "--port", "0"]
    return Server("agent-bridge", "bridge", command, f"/agents/{AGENT}/mcp", f"/agents/{AGENT}/sse")


def fastmcp(
    python: Path, upstream: str, *, validate_output: bool, transport: str = "http", stateful: bool = False
) -> Server:
    port = free_port()
    command = [str(python), str(BENCHMARKS / "fastmcp_peer.py"), str(SPEC), upstream, str(port)]
    if not validate_output:
        command.append("--no-validate-output")
    if transport == "sse":
        command += ["--transport", "sse"]
    if stateful:
        command.append("--stateful")
    name = "fastmcp (validate_output off)" if not validate_output else "fastmcp (defaults)"
    return Server(name, "fastmcp", command, "/mcp", "/sse")


def bare(upstream: str) -> Server:
    port = free_port()
    command = [sys.executable, str(BENCHMARKS / "peers.py"), "ask", upstream, str(port), str(BENCH_PROJECT)]
    return Server("bare starlette+httpx2", "bare", command, "/mcp")


@contextmanager
def serving(server: Server) -> Generator[Running]:
    with running(server.command, server.name, core=SERVER_CORE) as process:
        yield process
