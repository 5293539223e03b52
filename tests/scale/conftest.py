from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from tests.support.engines import ValkeyProcess, running_valkey
from tests.support.sandbox_process import free_port


@pytest.fixture
def valkey(tmp_path: Path) -> Generator[ValkeyProcess]:
    """A real Valkey server of its own (empty), which the test may stop and start again."""
    with running_valkey(free_port(), tmp_path / "valkey") as server:
        yield server
