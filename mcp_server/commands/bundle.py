"""`agent-bridge bundle`: build the Claude Desktop MCP Bundle (`.mcpb`) from this checkout.

The bundle holds the generated `manifest.json` (see `bundle_manifest`), the icon, `pyproject.toml`,
`README.md` and the `mcp_server` package; Claude Desktop installs the dependencies with uv. It is packed
(and validated) by the npm tool `@anthropic-ai/mcpb` (`mcpb pack`). `--write-manifest` only rewrites
`bundle/manifest.json`, the checked-in copy of the manifest.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from mcp_server.bundle_manifest import ICON, manifest
from mcp_server.errors import BridgeError, ConfigError
from mcp_server.snippet_targets import source_checkout

MCPB: Final = "npx -y @anthropic-ai/mcpb@2.1.2"
PACKED: Final = ("pyproject.toml", "README.md")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="the .mcpb file to write (default dist/agent-bridge.mcpb)"
    )
    parser.add_argument("--mcpb", default=MCPB, help=f"how to run the mcpb tool (default: {MCPB})")
    parser.add_argument("--write-manifest", action="store_true", help="only rewrite bundle/manifest.json")


def manifest_text() -> str:
    return json.dumps(manifest(), indent=2, ensure_ascii=False) + "\n"


def _checkout() -> Path:
    source = source_checkout()
    if not Path(source).is_dir():
        raise ConfigError("agent-bridge bundle builds from a source checkout; run it from a clone of the repository")
    return Path(source)


def stage(checkout: Path, folder: Path) -> None:
    """Lay out the bundle's files in `folder`."""
    (folder / "manifest.json").write_text(manifest_text(), encoding="utf-8")
    shutil.copyfile(checkout / "bundle" / ICON, folder / ICON)
    for name in PACKED:
        shutil.copyfile(checkout / name, folder / name)
    shutil.copytree(
        checkout / "mcp_server", folder / "mcp_server", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )


def pack(checkout: Path, out: Path, mcpb: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "agent-bridge"
        folder.mkdir()
        stage(checkout, folder)
        try:
            done = subprocess.run(
                [*shlex.split(mcpb), "pack", str(folder), str(out.resolve())],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except FileNotFoundError:
            raise ConfigError(f"cannot run {mcpb!r}; install Node.js (for npx) or pass --mcpb") from None
    if done.returncode != 0:
        raise BridgeError(f"mcpb pack failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")


def run(args: argparse.Namespace) -> int:
    checkout = _checkout()
    if args.write_manifest:
        path = checkout / "bundle" / "manifest.json"
        path.write_text(manifest_text(), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    out: Path = args.out or checkout / "dist" / "agent-bridge.mcpb"
    pack(checkout, out, args.mcpb)
    print(f"wrote {out}: open it with Claude Desktop to install Agent Bridge")
    return 0
