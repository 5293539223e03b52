"""The stdio entry point does not load the upstream client's library (aiohttp) until a request needs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mcp_server.lazy_imports import lazy_module

_PROBE = """
import sys
import mcp_server.commands.stdio
print("aiohttp.client" in sys.modules)
import mcp_server.upstream_answers as answers
print(answers.aiohttp.ClientError.__module__)
print("aiohttp.client" in sys.modules)
"""


def test_starting_stdio_leaves_aiohttp_unloaded_until_it_is_used() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "aiohttp.client_exceptions", "True"]


def test_a_module_already_imported_is_returned_as_it_is() -> None:
    assert lazy_module("json") is sys.modules["json"]


def test_a_missing_module_is_refused_at_once() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        lazy_module("no_such_module_here")
