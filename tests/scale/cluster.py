"""Three `agent-bridge serve` replicas (node ids bridge-1..3) sharing one real Valkey, behind a real
nginx running the recipe in configs/nginx.conf (its replica addresses and temp paths rewritten for
loopback). A replica can be restarted on its own port, as a rolling restart does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mcp_server import launch
from tests.support.bridge_http import write_http_config
from tests.support.engines import ValkeyProcess, running_nginx, running_valkey
from tests.support.sandbox_process import SandboxProcess, free_port

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "nginx.conf"
NODES = ("bridge-1", "bridge-2", "bridge-3")
EXTRA_TABLES = (
    "[actions]",
    "enabled = true",
    "answer_wait_seconds = 1",
    "[backends.compat]",
    'kind = "openai"',
    'api_key = "sandbox-key"',
    "base_url = '{sandbox}/api/v1/projects/1'",
    "[[agents]]",
    'name = "chat"',
    'backend = "compat"',
    'model = "gpt-4o"',
)


@dataclass
class Replica:
    node: str
    port: int
    config: Path
    store_url: str
    process: subprocess.Popen[str] | None = None
    _tail: launch.OutputTail | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {"AGENT_BRIDGE_NODE_ID": self.node, "AGENT_BRIDGE_STORE_URL": self.store_url}
        command = [sys.executable, "-m", "mcp_server", "serve", "--config", str(self.config), "--port", str(self.port)]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        assert self.process.stderr is not None
        self._tail = launch.OutputTail(self.process.stderr)
        launch.wait_for_ready(self.process, "serve", 30, self._tail)

    def stop(self) -> int:
        """SIGTERM, as an orchestrator sends it; the exit code."""
        process, self.process = self.process, None
        if process is None:
            return 0
        process.terminate()
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        if self._tail is not None:
            self._tail.text(wait=2)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        return code


def children(pid: int) -> set[int]:
    """The process ids whose parent is `pid` (nginx's workers, under its master)."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@dataclass
class Cluster:
    url: str  # nginx
    replicas: tuple[Replica, ...]
    valkey: ValkeyProcess
    nginx: subprocess.Popen[bytes]
    prefix: Path

    def error_log(self) -> str:
        """nginx's error log so far (why it answered 502, if it did)."""
        log = self.prefix / "error.log"
        return log.read_text() if log.exists() else ""

    def route(self, *, down: Replica | None = None) -> None:
        """Reload nginx with `down` marked down (no new work for it), as an orchestrator drains a replica
        before stopping it; returns once the previous workers (the old routing) have exited."""
        text = nginx_config(RECIPE.read_text(), int(self.url.rsplit(":", 1)[1]), self.prefix, self.replicas)
        if down is not None:
            address = f"127.0.0.1:{down.port}"
            text = text.replace(f"server {address} max_fails=0;", f"server {address} down;")
        (self.prefix / "nginx.conf").write_text(text)
        old = children(self.nginx.pid)
        self.nginx.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while old & children(self.nginx.pid):
            assert time.monotonic() < deadline, "nginx's old workers did not exit after the reload"
            time.sleep(0.05)


def nginx_config(recipe: str, port: int, prefix: Path, replicas: tuple[Replica, ...]) -> str:
    """The recipe on loopback: its replica host names become ports, its temp paths go under `prefix`."""
    text = recipe.replace("listen 8080;", f"listen 127.0.0.1:{port};").replace("/tmp/nginx-", f"{prefix}/nginx-")
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    text = text.replace("error_log stderr warn;", f"error_log {prefix}/error.log warn;")
    for replica in replicas:
        text = text.replace(f"{replica.node}:8000", f"127.0.0.1:{replica.port}")
    assert "bridge-1:8000" not in text
    return text


@contextmanager
def running_cluster(sandbox: SandboxProcess, directory: Path) -> Generator[Cluster]:
    directory.mkdir(parents=True, exist_ok=True)
    tables = [line.replace("{sandbox}", sandbox.url) for line in EXTRA_TABLES]
    config = write_http_config(directory / "bridge.toml", sandbox.url, extra_tables=tables)
    with ExitStack() as stack:
        valkey = stack.enter_context(running_valkey(free_port(), directory / "valkey"))
        replicas = tuple(Replica(node, free_port(), config, valkey.url) for node in NODES)
        for replica in replicas:
            stack.callback(replica.stop)
            replica.start()
        port, prefix = free_port(), directory / "nginx"
        nginx = stack.enter_context(
            running_nginx(nginx_config(RECIPE.read_text(), port, prefix, replicas), port, prefix)
        )
        yield Cluster(f"http://127.0.0.1:{port}", replicas, valkey, nginx, prefix)
