"""The titles of an agent's indexed documents, kept for a while so completion costs nothing upstream.

Completion runs on every keystroke; asking the upstream each time would be slow and could cost. The
catalog reads an agent's page listing (free listing calls, never a query) at most once per
`max_age_seconds` for each caller and agent, up to `max_listing_pages` listings of 20, and answers
from memory in between. Concurrent first requests share one read.

Entries are kept per (principal, agent), so a passthrough caller's upstream key never fills another
caller's completions. In-process and bounded (`max_entries`, oldest first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import anyio

from mcp_server.backends.base import Page, SourceListing

DEFAULT_MAX_AGE_SECONDS: Final = 300.0
DEFAULT_LISTING_PAGES: Final = 5
DEFAULT_MAX_ENTRIES: Final = 512

ListPages = Callable[[int], Awaitable[SourceListing]]


@dataclass(frozen=True, slots=True)
class Catalog:
    """What the catalog knows of one agent: its indexed documents (up to the listing bound) and how many
    listing pages there are."""

    pages: tuple[Page, ...]
    last_page: int
    complete: bool  # False when the agent has more documents than the catalog reads

    def titles(self) -> list[str]:
        return list(dict.fromkeys(p.title or p.url for p in self.pages if p.title or p.url))

    def find(self, name: str) -> list[Page]:
        """The documents whose title or URL is `name` (case-insensitive)."""
        wanted = name.strip().casefold()
        return [p for p in self.pages if wanted in ((p.title or "").casefold(), p.url.casefold())]


class SourceCatalog:
    def __init__(
        self,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        max_listing_pages: int = DEFAULT_LISTING_PAGES,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age = max_age_seconds
        self._max_listing_pages = max_listing_pages
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, Catalog]] = OrderedDict()
        self._locks: dict[tuple[str, str], anyio.Lock] = {}

    async def catalog(self, principal: str, agent: str, list_pages: ListPages) -> Catalog:
        """The agent's catalog for `principal`, read through `list_pages` when missing or too old."""
        key = (principal, agent)
        fresh = self._fresh(key)
        if fresh is not None:
            return fresh
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            fresh = self._fresh(key)  # another task may have read it while this one waited
            if fresh is not None:
                return fresh
            catalog = await self._read(list_pages)
            self._entries[key] = (self._clock() + self._max_age, catalog)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                old, _ = self._entries.popitem(last=False)
                self._locks.pop(old, None)
            return catalog

    def _fresh(self, key: tuple[str, str]) -> Catalog | None:
        found = self._entries.get(key)
        if found is None or found[0] < self._clock():
            return None
        return found[1]

    async def _read(self, list_pages: ListPages) -> Catalog:
        first = await list_pages(1)
        pages = list(first.pages)
        page = 1
        while page < min(first.last_page, self._max_listing_pages):
            page += 1
            pages += (await list_pages(page)).pages
        return Catalog(tuple(pages), first.last_page, complete=first.last_page <= self._max_listing_pages)


__all__ = ["Catalog", "SourceCatalog"]
