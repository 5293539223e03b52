"""The OAuth tests' shared bridge: the built-in authorization server on, the Actions facade too."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess, free_port


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    folder: Path = tmp_path_factory.mktemp("oauth-built-in")
    port = free_port()
    config = write_http_config(
        folder / "bridge.toml",
        sandbox_session.url,
        extra_server=[f'public_url = "http://127.0.0.1:{port}"'],
        extra_tables=["[actions]", "enabled = true", "[oauth]", "built_in = true"],
    )
    with running_bridge(config, "--port", str(port)) as process:
        yield process
