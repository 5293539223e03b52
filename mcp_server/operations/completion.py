"""Completion of prompt arguments and resource-template variables, declared with the registry.

A client asks for completions as a person types, so every completer here is bounded and cheap: at
most `MAX_VALUES` values (with `has_more` when there are more), read from memory (the agent's cached
source titles, see `source_catalog.py`), never an upstream query per keystroke.

`conversation_id` is deliberately never completed: conversation ids are sealed for the principal
that started them and the bridge keeps no list of them, so the only candidates it could offer would
be upstream conversations of every caller. Completing nothing leaks nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

from mcp_server.backends.base import ListsSources, SourceListing
from mcp_server.ids import MAX_PAGE
from mcp_server.operations import Call
from mcp_server.source_catalog import Catalog, SourceCatalog

MAX_VALUES: Final = 100  # the MCP limit for one completion result


@dataclass(frozen=True, slots=True)
class Lookup:
    """One request on one agent that may read the agent's cached source catalog."""

    call: Call
    title: str
    catalog: SourceCatalog

    async def sources(self) -> Catalog:
        backend = self.call.needs(ListsSources)

        async def list_pages(page: int) -> SourceListing:
            return await backend.list_sources(page)

        return await self.catalog.catalog(self.call.principal, self.call.agent, list_pages)


@dataclass(frozen=True, slots=True)
class Completion:
    values: tuple[str, ...]
    total: int
    has_more: bool


NOTHING: Final = Completion((), 0, False)

Completer = Callable[[Lookup, str], Awaitable[Completion]]
"""Completes what was typed so far (the `str`) for one agent."""


def bounded(candidates: Iterable[str], typed: str) -> Completion:
    """The candidates that start with `typed`, then those that contain it (case-insensitive), at most
    MAX_VALUES of them."""
    wanted = typed.strip().casefold()
    starting: list[str] = []
    containing: list[str] = []
    for value in dict.fromkeys(candidates):
        folded = value.casefold()
        if folded.startswith(wanted):
            starting.append(value)
        elif wanted in folded:
            containing.append(value)
    matched = starting + containing
    return Completion(tuple(matched[:MAX_VALUES]), len(matched), len(matched) > MAX_VALUES)


async def source_titles(lookup: Lookup, typed: str) -> Completion:
    """The titles (or URLs) of the agent's indexed documents, from the cached catalog."""
    catalog = await lookup.sources()
    found = bounded(catalog.titles(), typed)
    # Documents beyond the catalog's bound exist but are not listed: say there is more.
    return found if catalog.complete else Completion(found.values, found.total, True)


async def listing_pages(lookup: Lookup, typed: str) -> Completion:
    """The page numbers of the agent's document listing (`agent://{agent}/pages{?page}`)."""
    catalog = await lookup.sources()
    wanted = typed.strip()
    last = min(catalog.last_page, MAX_PAGE)
    return bounded((str(n) for n in range(1, last + 1) if str(n).startswith(wanted)), wanted)


TEMPLATE_COMPLETERS: Final[dict[str, Completer]] = {"page": listing_pages}
"""Resource-template variables completed per agent (`agent` itself is completed by each face from the
caller's view; `conversation_id` and `citation_id` never are)."""


__all__ = ["MAX_VALUES", "NOTHING", "TEMPLATE_COMPLETERS", "Completer", "Completion", "Lookup", "bounded"]
