"""Completion's bounds and the source catalog's age limit (units; the end-to-end evidence is in
tests/protocol/test_prompts.py)."""

from __future__ import annotations

import pytest

from mcp_server.backends.base import Page, SourceListing
from mcp_server.operations.completion import MAX_VALUES, bounded
from mcp_server.source_catalog import SourceCatalog

pytestmark = pytest.mark.anyio


def test_bounded_caps_at_100_and_says_there_is_more() -> None:
    found = bounded((f"doc-{n:03}.md" for n in range(250)), "DOC")
    assert len(found.values) == MAX_VALUES == 100
    assert found.total == 250 and found.has_more


def test_bounded_puts_prefix_matches_first_and_drops_the_rest() -> None:
    found = bounded(["backups.md", "restoring-backups.md", "pricing.md", "Backup plans"], "backup")
    assert found.values == ("backups.md", "Backup plans", "restoring-backups.md")
    assert found.total == 3 and not found.has_more


class Listing:
    """A listing of `pages` documents, 20 a page, counting how often it is read."""

    def __init__(self, pages: int) -> None:
        self.documents = [
            Page(id=str(n), url=f"https://docs.example/{n}", crawl_status="ok", index_status="ok") for n in range(pages)
        ]
        self.reads = 0

    async def __call__(self, page: int) -> SourceListing:
        self.reads += 1
        chunk = tuple(self.documents[(page - 1) * 20 : page * 20])
        last = max(1, -(-len(self.documents) // 20))
        return SourceListing(sources=(), pages=chunk, page=page, last_page=last, total_pages=len(self.documents))


async def test_catalog_reads_once_per_age_and_per_caller() -> None:
    now = [0.0]
    catalog = SourceCatalog(max_age_seconds=300, max_listing_pages=5, clock=lambda: now[0])
    listing = Listing(30)  # two listing pages
    first = await catalog.catalog("alice", "support", listing)
    await catalog.catalog("alice", "support", listing)
    assert listing.reads == 2 and len(first.pages) == 30 and first.complete
    await catalog.catalog("bob", "support", listing)  # another caller: its own read
    assert listing.reads == 4
    now[0] = 301.0  # too old: read again
    await catalog.catalog("alice", "support", listing)
    assert listing.reads == 6


async def test_catalog_reads_at_most_its_bound() -> None:
    listing = Listing(500)  # 25 listing pages
    found = await SourceCatalog(max_listing_pages=5).catalog("alice", "support", listing)
    assert listing.reads == 5 and len(found.pages) == 100 and not found.complete
