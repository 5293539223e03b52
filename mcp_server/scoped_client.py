"""One agent's confined view of the shared upstream pool (`UpstreamClient.scoped`).

Ids never steer upstream URLs (SECURITY.md). Every id is validated and every segment percent-encoded
before a path is built (`ids`); this is the third wall: a path that leaves the agent's prefix, or
carries anything but plain segments, is refused before anything is sent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from mcp_server.errors import UpstreamPathError
from mcp_server.event_stream import ServerSentEvent

if TYPE_CHECKING:
    from mcp_server.upstream import Params, UpstreamClient

# The refusal is logged under the upstream client's name, as it was before this module was split from it.
logger = logging.getLogger("mcp_server.upstream")

_SAFE_SEGMENT: Final = re.compile(r"[A-Za-z0-9._~-]+")


class ScopedClient:
    """One agent's door to the shared pool: every request must stay under the agent's path prefix.

    `prefix` is relative to the backend's base URL (`api/v1/projects/12`, `chat/completions`). A path
    is refused, before anything is sent, when it carries a query or fragment of its own, when any of
    its segments (percent-decoded, as an upstream router or proxy would see it) is empty, `.`, `..` or
    holds anything but unreserved characters, or when it does not start with the prefix. Ids are
    validated long before this; this is the wall that holds if one of those checks is ever missed.
    """

    def __init__(self, client: UpstreamClient, prefix: str, api_key: str | None = None) -> None:
        self._client = client
        self.prefix = prefix.strip("/")
        self._headers: dict[str, str] | None = {"Authorization": f"Bearer {api_key}"} if api_key is not None else None

    @property
    def timeout(self) -> float:
        return self._client.timeout

    def _checked(self, path: str) -> str:
        relative = path.lstrip("/")
        segments = relative.split("/")
        safe = not any(c in path for c in "?#\\") and all(
            _SAFE_SEGMENT.fullmatch(unquote(s)) and unquote(s) not in (".", "..") for s in segments
        )
        if not safe or not (relative == self.prefix or relative.startswith(self.prefix + "/")):
            logger.warning("refused an upstream request outside the agent's prefix %s", self.prefix)
            raise UpstreamPathError(
                "the bridge refused to send a request outside this agent's part of the upstream API. "
                "This is a bug or a malicious id; nothing was sent."
            )
        return relative

    async def get_json(self, path: str, params: Params | None = None) -> Any:
        return await self._client.get_json(self._checked(path), params, self._headers)

    async def post_json(self, path: str, body: Mapping[str, Any], params: Params | None = None) -> Any:
        return await self._client.post_json(self._checked(path), body, params, self._headers)

    def stream_events(
        self, path: str, body: Mapping[str, Any], params: Params | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[ServerSentEvent]]:
        return self._client.stream_events(self._checked(path), body, params, self._headers)

    def stream_text(
        self, path: str, body: Mapping[str, Any], params: Params | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        return self._client.stream_text(self._checked(path), body, params, self._headers)
