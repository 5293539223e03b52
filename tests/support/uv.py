"""`uv` and `uvx` (the PyPI package `uv`, a dev dependency) set up to use the package indexes pip uses here.

On a plain machine pip and uv both use PyPI and this adds nothing. Where pip is configured with extra
indexes, find-links folders, a CA bundle or constraints (`pip config list`), uv gets the same through its
environment variables, with pip's "best version across all indexes" strategy, and never downloads a Python
(it uses the interpreter running the tests).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
UV = BIN / "uv"
UVX = BIN / "uvx"
CHECKOUT = Path(__file__).resolve().parents[2]

requires_uv = pytest.mark.skipif(not UVX.exists(), reason="uv is not installed; pip install -e '.[dev]'")

_PIP_TO_UV = {
    "index-url": "UV_INDEX_URL",
    "extra-index-url": "UV_EXTRA_INDEX_URL",
    "find-links": "UV_FIND_LINKS",
    "constraint": "UV_CONSTRAINT",
    "cert": "SSL_CERT_FILE",
}
_LINE = re.compile(r"^[^.]*\.([a-z-]+)='(.*)'$")


def pip_settings() -> dict[str, str]:
    """pip's effective settings (`pip config list`, later scopes winning), by option name."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False, timeout=60
    )
    settings: dict[str, str] = {}
    for line in done.stdout.splitlines():
        match = _LINE.match(line.strip())
        if match:
            settings[match.group(1)] = match.group(2)
    for option in _PIP_TO_UV:  # PIP_* environment variables override the files
        value = os.environ.get("PIP_" + option.upper().replace("-", "_"))
        if value:
            settings[option] = value
    return settings


def uv_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a `uv`/`uvx` child: ours, plus pip's indexes and the test interpreter."""
    env = dict(os.environ)
    for option, value in pip_settings().items():
        if option in _PIP_TO_UV:
            env[_PIP_TO_UV[option]] = value
    env |= {
        "UV_INDEX_STRATEGY": "unsafe-best-match",  # pip's rule: the best version on any index
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
        "PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
    }
    env.pop("VIRTUAL_ENV", None)
    env |= extra or {}
    return env
