"""A real headless Chromium for browser tests: the build in the npm package `@sparticuz/chromium`
(no browser download site is reachable here), driven by Playwright for Python.

`chromium_executable(dir)` unpacks the browser into `dir` (its `executablePath()` unpacks into the
temporary directory, so TMPDIR points there); tests that need it use `BROWSER_MARKS`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Final

import pytest

from tests.support.node import NODE, NODE_DIR, NODE_MODULES, installed

PACKAGE: Final = NODE_MODULES / "@sparticuz" / "chromium"
LAUNCH_ARGS: Final = ["--no-sandbox", "--headless=new", "--single-process", "--no-zygote"]

requires_chromium = pytest.mark.skipif(
    not (installed() and PACKAGE.is_dir()),
    reason="@sparticuz/chromium is not installed in tests/node; run `bash .ci/node-setup`",
)
BROWSER_MARKS = [requires_chromium, pytest.mark.node]


def chromium_executable(directory: Path) -> str:
    """Unpack the Chromium build into `directory` and return the browser's path."""
    directory.mkdir(parents=True, exist_ok=True)
    script = "import('@sparticuz/chromium').then(async (m) => console.log(await m.default.executablePath()))"
    done = subprocess.run(
        [str(NODE), "--input-type=module", "-e", script],
        cwd=NODE_DIR,
        env={"TMPDIR": str(directory), "HOME": str(directory), "PATH": f"{NODE.parent}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"could not unpack Chromium from @sparticuz/chromium: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]
