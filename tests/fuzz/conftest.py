"""The fuzz suite's bridge and its budget: a quick profile by default (the whole folder well under a
minute), `--hypothesis-profile=long` for at least 10,000 cases per transport."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from tests.fuzz.budget import CASES
from tests.support.bridge_http import TOKENS, BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess

SECRETS = ("sandbox-key", *(token for token, _, _ in TOKENS.values()))


@pytest.fixture(scope="module")
def fuzz_bridge(sandbox_session: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "bridge.toml"
    config = write_http_config(path, sandbox_session.url, extra_tables=("[actions]", "enabled = true"))
    with running_bridge(config) as bridge:
        yield bridge


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, "a secret was echoed"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many generated cases each transport ran (the long profile's record in the README)."""
    for transport, count in sorted(CASES.items()):
        terminalreporter.write_line(f"fuzz cases: {transport}: {count:,}")
