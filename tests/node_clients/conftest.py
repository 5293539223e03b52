"""Bridges the Node client tests share: `agent-bridge serve` processes against the session's sandbox."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess


@pytest.fixture(scope="session")
def node_bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    """A bridge with the test tokens (tests.support.bridge_http.TOKENS): agents `support` and `hr`."""
    config = write_http_config(tmp_path_factory.mktemp("node-bridge") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process
