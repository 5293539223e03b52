"""`agent-bridge serve` as a real child process, configured against a running sandbox."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mcp_server import launch

TOKENS = {
    "all": ("tok-all-6f1c2b", ["*"], ["*"]),
    "support": ("tok-support-91ad7e", ["support"], ["*"]),
    "hr-ask": ("tok-hr-ask-3be0c4", ["hr"], ["ask"]),
}


@dataclass(frozen=True, slots=True)
class BridgeProcess:
    url: str
    process: subprocess.Popen[str]

    def auth(self, token: str = "all") -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[token][0]}"}


AGENTS = (("support", 1, "Northwind Support"), ("hr", 2, "Acme HR"))


def write_http_config(
    path: Path,
    sandbox_url: str,
    *,
    tokens: bool = True,
    extra_server: Sequence[str] = (),
    keepalive: float = 10,
    agents: Sequence[tuple[str, int, str]] = AGENTS,
    extra_tables: Sequence[str] = (),
    protection: bool = False,
    extra_backend: Sequence[str] = (),
) -> Path:
    """A bridge config against the sandbox: agents (name, project id, title) and, unless told, TOKENS.
    Unless `protection`, the rate limit and circuit breaker are off: most tests arm upstream faults
    call after call and count on each reaching the sandbox (tests/protection turn them on)."""
    lines = ["[server]", f"keepalive_seconds = {keepalive}", *extra_server]
    if not protection:
        lines += ['rate_limit = "off"']
    lines += ["[backends.customgpt]", 'api_key = "sandbox-key"', f'base_url = "{sandbox_url}"', "timeout_seconds = 30"]
    if not protection:
        lines += ["breaker_failures = 0"]
    lines += extra_backend  # more keys of [backends.customgpt]
    for name, project_id, title in agents:
        lines += ["[[agents]]", f'name = "{name}"', f"project_id = {project_id}", f'title = "{title}"']
    if tokens:
        for name, (token, scope_agents, scope_tools) in TOKENS.items():
            digest = hashlib.sha256(token.encode()).hexdigest()
            lines += ["[[tokens]]", f'name = "{name}"', f'sha256 = "{digest}"']
            lines += [f"agents = {json.dumps(scope_agents)}", f"tools = {json.dumps(scope_tools)}"]
    lines += extra_tables  # whole tables after the rest, e.g. "[actions]", "enabled = true"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def running_bridge(config: Path, *extra_args: str) -> Generator[BridgeProcess]:
    with launch.running(["serve", "--config", str(config), "--port", "0", *extra_args], quiet=True) as child:
        yield BridgeProcess(url=child.url, process=child.process)


@contextmanager
def running_bridge_logging_to(
    config: Path, log: Path, level: str = "debug", extra_args: Sequence[str] = (), log_format: str = "text"
) -> Generator[BridgeProcess]:
    """A bridge whose stderr (its whole log, at `level`, in `log_format`) goes to the file `log`; `extra_args`
    go to `serve`."""
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "mcp_server", "--log-level", level, "--log-format", log_format),
                *("serve", "--config", str(config), "--port", "0", *extra_args),
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert process.stdout is not None
            ready = process.stdout.readline()  # the first line on stdout is the ready line
            assert "agent-bridge serving on " in ready, f"bridge did not start; see {log}"
            yield BridgeProcess(url=ready.split("serving on ", 1)[1].strip(), process=process)
        finally:
            process.terminate()
            process.wait(timeout=30)
            assert process.stdout is not None
            process.stdout.close()
