"""CodeGPT's agents API (`https://api.codegpt.co/api/v1`) as a `Backend`.

Chat is OpenAI-shaped (`POST chat/completions` naming the agent by `agentId`), streamed as
`format: "json"` (SSE `choices[0].delta.content` frames ending `data: [DONE]`) or `format: "text"`
(the answer's raw text, no end marker). Sources are the agent's documents:
`GET agent/{id}?populate=agent_documents`, and `GET document/{id}` for a document the agent lists
by id only; titles come from the document's metadata. `CodeGPT-Org-Id` goes with every request when
the backend names an `org_id` (CodeGPT needs it to read agents of an organisation).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, ClassVar, Final, Literal, cast

import anyio

from mcp_server.backends.base import Capability, OnDelta, Page, Source, SourceListing
from mcp_server.backends.chat import COMPLETIONS_PATH, ChatBackend, Completion
from mcp_server.backends.memory import ChatBackendSettings, ConversationMemory
from mcp_server.errors import UpstreamAuthError, UpstreamProtocolError
from mcp_server.ids import segment
from mcp_server.scoped_client import ScopedClient

ORG_HEADER: Final = "CodeGPT-Org-Id"
DOCUMENTS_PER_PAGE: Final = 20
DOCUMENT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class CodeGPTSettings(ChatBackendSettings):
    """`kind = "codegpt"`: CodeGPT's agents API; its agents name an `agent_id`."""

    kind: Literal["codegpt"] = "codegpt"
    base_url: str = "https://api.codegpt.co/api/v1"
    org_id: str | None = None  # sent as the CodeGPT-Org-Id header
    stream_format: Literal["json", "text"] = "json"

    def extra_headers(self) -> dict[str, str]:
        return {ORG_HEADER: self.org_id} if self.org_id else {}


class CodeGPTBackend(ChatBackend):
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({"ask", "sources", "transcripts"})

    def __init__(
        self,
        chat: ScopedClient,
        agent: ScopedClient,
        documents: ScopedClient,
        agent_id: str,
        memory: ConversationMemory,
        *,
        stream_format: Literal["json", "text"] = "json",
        system_prompt: str | None = None,
    ) -> None:
        super().__init__(
            chat, {"agentId": agent_id, "format": stream_format}, f"CodeGPT agent {agent_id}", memory, system_prompt
        )
        self._agent = agent
        self._documents = documents
        self._agent_path = agent.prefix
        self._stream_format = stream_format

    async def _stream(self, body: dict[str, Any], on_delta: OnDelta) -> Completion:
        if self._stream_format == "json":
            return await super()._stream(body, on_delta)
        pieces: list[str] = []
        async with self._client.stream_text(COMPLETIONS_PATH, body) as chunks:
            async for piece in chunks:
                if piece:
                    pieces.append(piece)
                    await on_delta(piece)
        return "".join(pieces), None, ()

    async def list_sources(self, page: int) -> SourceListing:
        try:
            agent = _object(await self._agent.get_json(self._agent_path, params={"populate": "agent_documents"}))
        except UpstreamAuthError as exc:
            raise UpstreamAuthError(
                f"{exc} CodeGPT also wants the agent's organization: set org_id in the backend (CodeGPT-Org-Id).",
                status=exc.status,
            ) from None
        listed = _list(agent.get("agent_documents"))
        last_page = max(1, math.ceil(len(listed) / DOCUMENTS_PER_PAGE))
        shown = listed[(page - 1) * DOCUMENTS_PER_PAGE : page * DOCUMENTS_PER_PAGE]
        documents = await self._documents_of(shown)
        source = Source(
            id=_text(agent.get("id")) or "agent",
            kind="documents",
            location=_text(agent.get("name")) or None,
            page_count=len(listed),
        )
        pages = tuple(_page(d) for d in documents)
        return SourceListing(sources=(source,), pages=pages, page=page, last_page=last_page, total_pages=len(listed))

    async def _documents_of(self, listed: list[Any]) -> list[dict[str, Any]]:
        """Each listed document as an object: as the agent populated it, else read by its id."""
        found: dict[int, dict[str, Any]] = {}

        async def read(index: int, document_id: str) -> None:
            found[index] = _object(await self._documents.get_json(f"{self._documents.prefix}/{segment(document_id)}"))

        async with anyio.create_task_group() as tg:
            for index, item in enumerate(listed):
                if isinstance(item, dict) and (item.get("name") or item.get("metadata")):
                    found[index] = cast(dict[str, Any], item)
                    continue
                document_id = _text(item.get("id") if isinstance(item, dict) else item)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
                if DOCUMENT_ID.fullmatch(document_id) is None:
                    raise UpstreamProtocolError("the upstream listed a document id the bridge cannot use. Retry.")
                tg.start_soon(read, index, document_id)
        return [found[i] for i in sorted(found)]


def _object(body: Any) -> dict[str, Any]:
    """A JSON object, also when wrapped as `{"data": {...}}`."""
    if isinstance(body, dict):
        inner = cast(dict[str, Any], body).get("data")
        return cast(dict[str, Any], inner) if isinstance(inner, dict) else cast(dict[str, Any], body)
    raise UpstreamProtocolError("the upstream answered with something other than a JSON object. Check base_url.")


def _list(value: Any) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _metadata(document: dict[str, Any]) -> dict[str, Any]:
    """`metadata` arrives as an object or as a JSON string of one."""
    raw = document.get("metadata")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return cast(dict[str, Any], raw) if isinstance(raw, dict) else {}


def _page(document: dict[str, Any]) -> Page:
    metadata = _metadata(document)
    name = _text(document.get("name"))
    chunks = document.get("chunks_count")
    indexed = "ok" if not isinstance(chunks, int) or chunks > 0 else "n/a"
    return Page(
        id=_text(document.get("id")),
        url=_text(metadata.get("url")) or name,
        crawl_status="ok",
        index_status=indexed,
        title=_text(metadata.get("title")) or name or None,
    )
