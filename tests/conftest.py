from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.sandbox_process import SandboxProcess, running_sandbox

# `--hypothesis-profile=long`: the fuzz suite's long run (tests/fuzz/budget.py), 10,000 cases per transport.
settings.register_profile("long", max_examples=10_000, deadline=None)

SECOND_CORPUS = {
    "leave-policy.md": "# Leave policy\n\nEmployees get 25 days of paid leave a year; unused days expire in March.\n",
    "expenses.md": "# Expenses\n\nSubmit expense reports within 30 days with receipts attached in the HR portal.\n",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory: pytest.TempPathFactory) -> Generator[SandboxProcess]:
    corpus: Path = tmp_path_factory.mktemp("corpora") / "acme-hr"
    corpus.mkdir()
    for name, text in SECOND_CORPUS.items():
        (corpus / name).write_text(text)
    with running_sandbox("--corpus", str(corpus)) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_session: SandboxProcess) -> Generator[SandboxProcess]:
    """The shared sandbox (demo project 1, a small HR corpus as project 2) with no faults armed."""
    sandbox_session.clear_faults()
    yield sandbox_session
    sandbox_session.clear_faults()
