"""The native CustomGPT.ai API (`/api/v1/projects/{id}/...`) as a `Backend`.

The real wire is looser than its OpenAPI spec (ids as `"12061.0"`, booleans as 0/1, PHP `[]` for
empty objects), so everything read here goes through the tolerant readers at the bottom.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, ClassVar, Final, Literal

import anyio

from mcp_server.backends.base import (
    AgentProfile,
    AgentSettings,
    Answer,
    BackendSettings,
    Capability,
    Citation,
    Message,
    OnDelta,
    Page,
    Source,
    SourceListing,
    Transcript,
)
from mcp_server.errors import UpstreamError, UpstreamNotFoundError, UpstreamProtocolError, UpstreamServerError
from mcp_server.ids import is_citation_id, is_conversation_id, segment
from mcp_server.scoped_client import ScopedClient
from mcp_server.store import InProcessCache, JsonCache
from mcp_server.upstream_streams import event_json

logger = logging.getLogger(__name__)

PAGES_PER_LISTING: Final = 20
CONVERSATION_NAME_LENGTH: Final = 80
SEARCH_CONVERSATION_NAME: Final = "agent-bridge citation search"
DEFAULT_BASE_URL: Final = "https://app.customgpt.ai"


class CustomGPTSettings(BackendSettings):
    """`kind = "customgpt"`: the native CustomGPT.ai API; its agents name a `project_id`."""

    kind: Literal["customgpt"] = "customgpt"
    base_url: str = DEFAULT_BASE_URL


TRANSCRIPT_PAGE_LIMIT: Final = 5
# A cited source's title and URL rarely change, and every `ask` cites a few: without a cache each answer
# costs one GET per citation after the message itself (two thirds of the upstream requests of an `ask`).
CITATION_CACHE_SIZE: Final = 1024  # per agent
CITATION_CACHE_SECONDS: Final = 600.0
OPERATOR_SETTINGS: Final = frozenset({"persona_instructions"})  # the operator's prompt


class CustomGPTBackend:
    """One CustomGPT project, reached through a client confined to `api/v1/projects/<its id>`."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({"ask", "search", "sources", "citations", "transcripts"})

    def __init__(self, client: ScopedClient, project_id: int, cited: JsonCache | None = None) -> None:
        self._client = client
        self._project_id = project_id
        self._base = f"api/v1/projects/{segment(project_id)}"
        # Cited sources, in this process or shared by every replica (`[store] url`).
        self._cited = cited if cited is not None else InProcessCache(CITATION_CACHE_SIZE, CITATION_CACHE_SECONDS)

    async def profile(self) -> AgentProfile:
        project = _data(await self._client.get_json(self._base))
        title = _text(project.get("project_name")) or f"Project {self._project_id}"
        return AgentProfile(title=title)

    async def ask(
        self, question: str, conversation_id: str | None, on_delta: OnDelta | None, *, caller: str = ""
    ) -> Answer:
        session_id = conversation_id or await self._new_conversation(question)
        path = f"{self._base}/conversations/{segment(session_id)}/messages"
        body = {"prompt": question, "response_source": "default"}
        if on_delta is None:
            message = _data(await self._client.post_json(path, body))
            text = _text(message.get("openai_response"))
            message_id = _id(message.get("id"))
            citation_ids = _ids(message.get("citations"))
        else:
            text, message_id, citation_ids = await self._stream_answer(path, body, on_delta)
        citations = await self._resolve(citation_ids)
        return Answer(text=text, conversation_id=session_id, message_id=message_id, citations=citations)

    async def search_citations(self, query: str, limit: int) -> tuple[Citation, ...]:
        # CustomGPT has no search endpoint: ask the agent and keep the sources it cited (one query
        # credit per search). Each search has a conversation of its own, so no caller's searches mix
        # with another's upstream and concurrent searches never race over a shared one.
        conversation = await self._new_conversation(SEARCH_CONVERSATION_NAME)
        path = f"{self._base}/conversations/{segment(conversation)}/messages"
        message = _data(await self._client.post_json(path, {"prompt": query, "response_source": "own_content"}))
        return await self._resolve(_ids(message.get("citations"))[:limit])

    async def list_sources(self, page: int) -> SourceListing:
        sources_data = _data(await self._client.get_json(f"{self._base}/sources"))
        pages_data = _data(
            await self._client.get_json(f"{self._base}/pages", params={"page": page, "limit": PAGES_PER_LISTING})
        )
        sources: list[Source] = []
        for raw in _list(sources_data.get("sitemaps")):
            sources.append(_source(raw, "sitemap"))
        uploads = sources_data.get("uploads")
        for raw in uploads if isinstance(uploads, list) else [uploads]:  # pyright: ignore[reportUnknownVariableType]
            if isinstance(raw, dict) and raw:
                sources.append(_source(raw, "upload"))  # pyright: ignore[reportUnknownArgumentType]
        paginator = _dict(pages_data.get("pages"))
        pages = tuple(
            Page(
                id=_id(p.get("id")) or "",
                url=_text(p.get("page_url")),
                crawl_status=_text(p.get("crawl_status")) or "n/a",
                index_status=_text(p.get("index_status")) or "n/a",
                title=_text(p.get("title")) or _text(p.get("filename")) or None,  # the API's pages carry no title
            )
            for p in (_dict(x) for x in _list(paginator.get("data")))
        )
        return SourceListing(
            sources=tuple(sources),
            pages=pages,
            page=_int(paginator.get("current_page"), page),
            last_page=_int(paginator.get("last_page"), 1),
            total_pages=_int(paginator.get("total"), len(pages)),
        )

    async def settings(self) -> AgentSettings:
        everything = _data(await self._client.get_json(f"{self._base}/settings"))
        operator = {k: v for k, v in everything.items() if k in OPERATOR_SETTINGS}
        avatar = _text(everything.get("chatbot_avatar"))
        return AgentSettings(
            public={k: v for k, v in everything.items() if k not in operator},
            operator=operator,
            icon=avatar if avatar.startswith("https://") else None,
        )

    async def citation(self, citation_id: str) -> Citation:
        return _citation(
            _data(await self._client.get_json(f"{self._base}/citations/{segment(citation_id)}")), citation_id
        )

    async def transcript(self, conversation_id: str) -> Transcript:
        path = f"{self._base}/conversations/{segment(conversation_id)}/messages"
        messages: list[Message] = []
        name: str | None = None
        page, last_page = 1, 1
        while page <= min(last_page, TRANSCRIPT_PAGE_LIMIT):
            data = _data(await self._client.get_json(path, params={"page": page, "order": "asc"}))
            name = name or _text(_dict(data.get("conversation")).get("name")) or None
            paginator = _dict(data.get("messages"))
            last_page = _int(paginator.get("last_page"), 1)
            for raw in (_dict(x) for x in _list(paginator.get("data"))):
                messages.append(
                    Message(
                        id=_id(raw.get("id")) or "",
                        question=_text(raw.get("user_query")),
                        answer=_text(raw.get("openai_response")),
                        created_at=_text(raw.get("created_at")) or None,
                        citation_ids=_ids(raw.get("citations")),
                    )
                )
            page += 1
        return Transcript(conversation_id=conversation_id, name=name, messages=tuple(messages))

    async def _new_conversation(self, name: str) -> str:
        data = _data(
            await self._client.post_json(
                f"{self._base}/conversations", {"name": name[:CONVERSATION_NAME_LENGTH] or "Agent Bridge"}
            )
        )
        session_id = _text(data.get("session_id"))
        if not is_conversation_id(session_id):
            raise UpstreamProtocolError("the upstream created a conversation without a usable session_id. Retry.")
        return session_id

    async def _stream_answer(
        self, path: str, body: dict[str, Any], on_delta: OnDelta
    ) -> tuple[str, str | None, tuple[str, ...]]:
        pieces: list[str] = []
        async with self._client.stream_events(path, body, params={"stream": "true"}) as events:
            async for event in events:
                if not event.data.strip():
                    continue
                frame = event_json(event)
                status = frame.get("status")
                if status == "progress":
                    piece = _text(frame.get("message"))
                    if piece:
                        pieces.append(piece)
                        await on_delta(piece)
                elif status == "finish":
                    return "".join(pieces), _id(frame.get("id")), _ids(frame.get("citations"))
                elif status == "error":
                    said = _text(frame.get("error") or frame.get("message"))
                    raise UpstreamServerError(f"the upstream failed while answering ({said or 'no detail'}). Retry.")
        raise UpstreamProtocolError(
            "the upstream's answer stream ended before it finished; the answer is incomplete. Retry the question."
        )

    async def _resolve(self, citation_ids: tuple[str, ...]) -> tuple[Citation, ...]:
        """Fetch each cited source concurrently. A source that is gone (404) keeps just its id; any other
        failure (a refused key, rate limiting, an outage) fails the call, so the model reads why."""
        found: dict[str, Citation] = {}
        failures: list[UpstreamError] = []

        async def fetch(cid: str) -> None:
            try:
                found[cid] = fetched[cid] = await self.citation(cid)
            except UpstreamNotFoundError:
                logger.debug("citation %s of project %s is gone upstream", cid, self._project_id)
                found[cid] = Citation(id=cid)
            except UpstreamError as exc:  # raised below, after the group, as itself (not in a group)
                failures.append(exc)

        wanted = list(dict.fromkeys(citation_ids))
        for cid, cached in (await self._cited.get_many(wanted)).items():
            found[cid] = _cached_citation(cached, cid)
        fetched: dict[str, Citation] = {}
        async with anyio.create_task_group() as tg:
            for cid in wanted:
                if cid not in found:
                    tg.start_soon(fetch, cid)
        await self._cited.put_many({cid: dataclasses.asdict(c) for cid, c in fetched.items()})
        if failures:
            raise failures[0]
        return tuple(found[cid] for cid in dict.fromkeys(citation_ids))


def _data(body: Any) -> dict[str, Any]:
    if isinstance(body, dict) and isinstance(body.get("data"), dict):  # pyright: ignore[reportUnknownMemberType]
        return body["data"]  # pyright: ignore[reportUnknownVariableType]
    raise UpstreamProtocolError(
        "the upstream answered without the expected {'status': 'success', 'data': {...}} envelope. "
        "Check that base_url points at the CustomGPT API."
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []  # pyright: ignore[reportUnknownVariableType]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _id(value: Any) -> str | None:
    """Ids arrive as 433, "433" or "433.0"; all mean "433"."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        return text[:-2]
    return text or None


def _ids(value: Any) -> tuple[str, ...]:
    """Citation ids as the upstream lists them; anything that is not a plain number is dropped."""
    return tuple(i for i in (_id(v) for v in _list(value)) if i and is_citation_id(i))


def _source(raw: dict[str, Any], kind: str) -> Source:
    settings = _dict(raw.get("settings"))
    return Source(
        id=_id(raw.get("id")) or "",
        kind=_text(raw.get("type")) or kind,
        location=_text(settings.get("sitemap_path")) or None,
        page_count=len(_list(raw.get("pages"))),
    )


def _cached_citation(raw: dict[str, Any], citation_id: str) -> Citation:
    def text(name: str) -> str | None:
        value = raw.get(name)
        return value if isinstance(value, str) else None

    return Citation(citation_id, text("title"), text("url"), text("description"), text("image"))


def _citation(raw: dict[str, Any], citation_id: str) -> Citation:
    return Citation(
        id=_id(raw.get("id")) or citation_id,
        title=_text(raw.get("title")) or None,
        url=_text(raw.get("url") or raw.get("page_url")) or None,
        description=_text(raw.get("description")) or None,
        image=_text(raw.get("image")) or None,
    )
