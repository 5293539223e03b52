"""Claude Code itself signs in to the built-in authorization server: `claude mcp add`, then
`claude mcp login NAME --no-browser` (which prints the authorization URL and reads the redirect URL
back on a terminal), the sign-in form posted by the test, and `claude mcp list` shows it connected."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from tests.oauth.browser import sign_in
from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.node import NODE_MARKS, NODE_MODULES, node_env
from tests.support.sandbox_process import SandboxProcess, free_port

pytestmark = NODE_MARKS

AUTHORIZE_URL = re.compile(rb"(http://127\.0\.0\.1:\d+/authorize\?[^\s\x07\x1b]+)")


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    folder: Path = tmp_path_factory.mktemp("oauth-claude")
    port = free_port()
    config = write_http_config(
        folder / "bridge.toml",
        sandbox_session.url,
        extra_server=[f'public_url = "http://127.0.0.1:{port}"'],
        # Claude Code names a client metadata document on claude.ai, which this machine cannot reach:
        # with documents off it registers itself (RFC 7591) instead.
        extra_tables=["[oauth]", "built_in = true", "client_metadata_documents = false"],
    )
    with running_bridge(config, "--port", str(port)) as process:
        yield process


def _env(home: Path) -> dict[str, str]:
    env = node_env(home, {"DISABLE_AUTOUPDATER": "1", "TERM": "dumb"})
    env["PATH"] = f"{NODE_MODULES / '.bin'}:{env['PATH']}"
    return env


def _claude(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["claude", *args], env=_env(home), cwd=home, capture_output=True, text=True, timeout=120, check=False
    )


def _read_until(fd: int, pattern: re.Pattern[bytes], seen: bytearray, timeout: float) -> re.Match[bytes] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(bytes(seen))
        if found is not None:
            return found
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return None
            if not chunk:
                return None
            seen += chunk
    return None


def test_claude_code_logs_in_and_connects(bridge: BridgeProcess, tmp_path: Path) -> None:
    added = _claude(["mcp", "add", "--transport", "http", "bridge", f"{bridge.url}/mcp"], tmp_path)
    assert added.returncode == 0, added.stderr
    before = _claude(["mcp", "list"], tmp_path)
    assert "Needs authentication" in before.stdout, before.stdout + before.stderr

    primary, secondary = pty.openpty()
    login = subprocess.Popen(
        ["claude", "mcp", "login", "bridge", "--no-browser"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    os.close(secondary)
    seen = bytearray()
    try:
        found = _read_until(primary, AUTHORIZE_URL, seen, 60)
        assert found is not None, seen.decode(errors="replace")[-2000:]
        assert _read_until(primary, re.compile(rb"paste the redirect URL"), seen, 30) is not None
        redirect = sign_in(found.group(1).decode(), TOKENS["support"][0])
        os.write(primary, redirect.encode() + b"\r")
        _read_until(primary, re.compile(rb"(?i)authenticat\w* (successfully|complete)|success"), seen, 60)
        login.wait(timeout=60)
    finally:
        if login.poll() is None:
            login.kill()
            login.wait()
        os.close(primary)
    output = seen.decode(errors="replace")
    assert login.returncode == 0, output[-2000:]
    assert TOKENS["support"][0] not in output
    after = _claude(["mcp", "list"], tmp_path)
    assert "Connected" in after.stdout and "Needs authentication" not in after.stdout, after.stdout + after.stderr
