"""The text of a cited source's public web page, for agents that allow it (`fetch_pages`).

A knowledge base cites pages by URL; ChatGPT's `fetch` wants a document's text. For an agent with
`fetch_pages = true` the bridge reads the page itself, but only from the hosts the operator listed in
`fetch_hosts` (no other host, no redirect elsewhere, no credentials sent): fetching whatever URL an
upstream returns would let that upstream point the bridge at any address it can reach.
"""

from __future__ import annotations

from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Final
from urllib.parse import urlsplit

import httpx2

from mcp_server import __version__
from mcp_server.errors import CallError

MAX_PAGE_BYTES: Final = 2_000_000
MAX_TEXT_CHARACTERS: Final = 100_000
TIMEOUT_SECONDS: Final = 10.0
_SKIPPED: Final = frozenset({"script", "style", "noscript", "template", "svg", "head", "nav", "footer"})
_BLOCKS: Final = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article"})


class PageFetchError(CallError):
    """The page could not be read; the message says why in one sentence."""


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self._skipping:
            self._skipping -= 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(page: str) -> str:
    """The readable text of an HTML page: no scripts, styles or navigation; one paragraph a line."""
    parser = _Text()
    parser.feed(page)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def allowed(url: str, hosts: Iterable[str]) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and (parts.hostname or "") in {h.lower() for h in hosts}


class PageFetcher:
    """One small pooled client for public pages (no upstream key, no cookies, no redirects)."""

    def __init__(self, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        # Made on first use: building a client (its TLS context) costs ~40 ms, which `agent-bridge stdio`
        # would otherwise spend before it answers `initialize`, for a tool most sessions never call.
        self._opened: httpx2.AsyncClient | None = None

    @property
    def _client(self) -> httpx2.AsyncClient:
        if self._opened is None:
            self._opened = httpx2.AsyncClient(
                timeout=TIMEOUT_SECONDS,
                follow_redirects=False,
                headers={"User-Agent": f"agent-bridge/{__version__} (page fetch)", "Accept": "text/html, text/plain"},
                transport=self._transport,
            )
        return self._opened

    async def aclose(self) -> None:
        client, self._opened = self._opened, None
        if client is not None:
            await client.aclose()

    async def text(self, url: str, hosts: Iterable[str]) -> str:
        if not allowed(url, hosts):
            raise PageFetchError(f"the page {url} is not on a host this agent may fetch from (fetch_hosts).")
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise PageFetchError(f"the page {url} answered HTTP {response.status_code}.")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_PAGE_BYTES:
                        raise PageFetchError(f"the page {url} is larger than {MAX_PAGE_BYTES // 1_000_000} MB.")
                charset = response.charset_encoding or "utf-8"
                kind = response.headers.get("content-type", "")
        except httpx2.HTTPError as exc:
            raise PageFetchError(f"the page {url} could not be read ({type(exc).__name__}).") from None
        page = body.decode(charset, errors="replace")
        text = html_text(page) if "html" in kind else page.strip()
        return text[:MAX_TEXT_CHARACTERS]
