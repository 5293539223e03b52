"""A sandbox with three projects (the demo, a small HR corpus, one document longer than a ChatGPT
response may be) and a real `agent-bridge serve` with the Actions facade on, shared by this folder."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from tests.support.bridge_http import BridgeProcess, running_bridge, write_http_config
from tests.support.sandbox_process import SandboxProcess, running_sandbox

HR_CORPUS = {"leave-policy.md": "# Leave policy\n\nEmployees get 25 days of paid leave a year.\n"}
LONG_WORD = "zephyrine"
LONG_PARAGRAPH = " ".join(
    f"The {LONG_WORD} manual, line {i}: every setting is described in full here." for i in range(2200)
)
AGENTS = (("support", 1, "Northwind Support"), ("hr", 2, "Acme HR"), ("big", 3, "Big Manual"))
ACTIONS = ("[actions]", "enabled = true", "answer_wait_seconds = 2")


@pytest.fixture(scope="session")
def actions_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Generator[SandboxProcess]:
    root = tmp_path_factory.mktemp("actions-corpora")
    hr, big = root / "acme-hr", root / "big-manual"
    hr.mkdir()
    big.mkdir()
    for name, text in HR_CORPUS.items():
        (hr / name).write_text(text)
    (big / "manual.md").write_text(f"# Manual\n\n{LONG_PARAGRAPH}\n")
    with running_sandbox("--corpus", str(hr), "--corpus", str(big)) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(actions_sandbox: SandboxProcess) -> Generator[SandboxProcess]:
    actions_sandbox.clear_faults()
    yield actions_sandbox
    actions_sandbox.clear_faults()


def actions_config(path: Path, sandbox: SandboxProcess, *extra: str, server: tuple[str, ...] = ()) -> Path:
    return write_http_config(path, sandbox.url, agents=AGENTS, extra_server=server, extra_tables=[*ACTIONS, *extra])


@pytest.fixture(scope="session")
def bridge(actions_sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Generator[BridgeProcess]:
    with running_bridge(actions_config(tmp_path_factory.mktemp("actions") / "bridge.toml", actions_sandbox)) as b:
        yield b
