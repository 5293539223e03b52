"""Fuzzing `agent-bridge stdio` as a real child process: generated JSON-RPC messages and raw lines
(random bytes, batches, deep nesting, unicode edge cases) after a normal handshake. After every case a
`ping` must be answered (no crash, no hang), and nothing the bridge writes may carry a secret."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Generator
from typing import IO, Any, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import count_case, fuzz_settings
from tests.fuzz.conftest import assert_no_secret
from tests.fuzz.strategies import bodies, jsonrpc_messages
from tests.support.bridge_stdio import spawn_stdio
from tests.support.sandbox_process import SandboxProcess

ANSWER_TIMEOUT: Final = 30.0
INITIALIZE: Final = {
    "jsonrpc": "2.0",
    "id": "init",
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}},
}


class StdioPeer:
    """The child's stdin, and its stdout lines as they come (read in a thread); stderr drained."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        self.process = process
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.stderr: list[bytes] = []
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(process.stderr,), daemon=True).start()
        self._pings = 0

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            self.lines.put(line)

    def _drain(self, stderr: IO[bytes]) -> None:
        for line in stderr:
            self.stderr.append(line)

    def send(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.replace(b"\n", b" ") + b"\n")
        self.process.stdin.flush()

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send `message` and return the answer with its id, checking every line read on the way."""
        self.send(json.dumps(message).encode())
        while True:
            line = self.lines.get(timeout=ANSWER_TIMEOUT)  # queue.Empty: the bridge hung or died
            assert_no_secret(line.decode("utf-8", "replace"))
            answer = json.loads(line)
            if isinstance(answer, dict) and answer.get("id") == message["id"]:  # pyright: ignore[reportUnknownMemberType]
                return answer  # pyright: ignore[reportUnknownVariableType]

    def ping(self) -> None:
        self._pings += 1
        answer = self.request({"jsonrpc": "2.0", "id": f"ping-{self._pings}", "method": "ping"})
        assert answer.get("result") == {}, answer


@pytest.fixture(scope="module")
def peer(sandbox_session: SandboxProcess) -> Generator[StdioPeer]:
    process = spawn_stdio(sandbox_session.url)
    peer = StdioPeer(process)
    try:
        assert "result" in peer.request(INITIALIZE)
        peer.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        yield peer
    finally:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    assert_no_secret(b"".join(peer.stderr).decode("utf-8", "replace"))


def test_stdio_answers_a_ping_after_every_generated_line(peer: StdioPeer) -> None:
    @fuzz_settings(quick=150)
    @given(line=st.one_of(jsonrpc_messages().map(lambda m: json.dumps(m).encode()), bodies))
    def run(line: bytes) -> None:
        count_case("stdio")
        peer.send(line)
        peer.ping()
        assert peer.process.poll() is None, "the bridge exited"

    run()
