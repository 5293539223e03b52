"""A bridge over HTTP with the test tokens (agents `support` and `hr`), shared by the protocol tests."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess


@pytest.fixture(scope="module")
def bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    config = write_http_config(tmp_path_factory.mktemp("protocol") / "bridge.toml", sandbox_session.url)
    with running_bridge(config) as process:
        yield process


@pytest.fixture(scope="module")
def open_bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    """A loopback bridge with no tokens, for the conformance suites (they cannot send credentials)."""
    config = write_http_config(tmp_path_factory.mktemp("open") / "bridge.toml", sandbox_session.url, tokens=False)
    with running_bridge(config) as process:
        yield process
