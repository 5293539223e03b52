"""The FastMCP peer's own virtual environment, built once under a cache folder.

FastMCP 4.1.6 cannot be installed the ordinary way from our registries: `fastmcp-slim[server]` asks for
`certifi>=2026.10.19`, newer than the registries hold (../shared/DESIGN.md, "Performance notes"). So the
environment is built in two steps: the wheel's own requirements (its base and its `client` and `server`
extras, read from the wheel's metadata, with that one certifi floor dropped), then the two FastMCP
wheels themselves with `--no-deps`. The finished environment is marked with a stamp file so later runs
reuse it; delete the folder to rebuild it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Final

from packaging.requirements import Requirement

FASTMCP_VERSION: Final = "4.1.6"
EXTRAS: Final = ("client", "server")
_DROPPED: Final = frozenset({"certifi"})  # its floor is newer than the registries; any certifi works here


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-bridge-bench"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _requirements(wheel: Path) -> list[str]:
    """The wheel's requirements for its base and EXTRAS on this Python, minus `_DROPPED`."""
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
    wanted: list[str] = []
    for line in metadata.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        requirement = Requirement(line.removeprefix("Requires-Dist:").strip())
        if requirement.name in _DROPPED:
            continue
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in EXTRAS):
            requirement.marker = None
            wanted.append(str(requirement))
    return sorted(set(wanted))


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "-q", "--disable-pip-version-check", *args], check=True)


def ensure_fastmcp_env(log: bool = True) -> Path:
    """The Python of a virtual environment holding FastMCP FASTMCP_VERSION, building it if needed."""
    venv = cache_dir() / f"fastmcp-{FASTMCP_VERSION}"
    stamp = venv / "built.txt"
    python = venv_python(venv)
    if stamp.exists() and python.exists():
        return python
    if log:
        print(f"building the FastMCP {FASTMCP_VERSION} peer's environment in {venv} (once; a minute or two)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    with tempfile.TemporaryDirectory() as wheels:
        _pip(python, "download", "--no-deps", "-d", wheels, f"fastmcp-slim=={FASTMCP_VERSION}")
        slim = next(Path(wheels).glob("fastmcp_slim-*.whl"))
        _pip(python, "install", *_requirements(slim))
        _pip(python, "install", "--no-deps", str(slim), f"fastmcp=={FASTMCP_VERSION}")
    stamp.write_text(f"fastmcp {FASTMCP_VERSION}\n")
    return python
