"""Modules loaded on first use rather than at import time.

`agent-bridge stdio` must answer `initialize` within half a second of its spawn, and importing the MCP
SDK alone takes most of that. aiohttp (the upstream client, ~85 ms to import) is not needed until the
first upstream request, so the modules that use it write `from mcp_server.lazy_imports import aiohttp`:
the name refers to a module object whose first attribute access runs the real import (the standard
library's `importlib.util.LazyLoader`, through `lazy_module`). Type checkers see the ordinary import.

Code that touches such a module at import time (a module-level `aiohttp.ClientError`, a decorator)
loads it at once and defeats the purpose: name its attributes inside functions, or in `except`
clauses, which Python evaluates only when an exception is being matched.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["aiohttp", "lazy_module"]


def lazy_module(name: str) -> ModuleType:
    """`name`'s module: the one already imported, else one that imports itself on first attribute access."""
    if (module := sys.modules.get(name)) is not None:
        return module
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_module("aiohttp")
