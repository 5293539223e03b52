"""The one registry of what an agent can do.

Each operation is declared once, here: its argument and result models, title and description, hints,
readable rendering, the backend capability it needs, and how it runs on a backend. Every face is
generated from this registry (the MCP tools and resource templates in `mcp_definitions.py`, the
Actions facade's OpenAPI operations in `actions/`), and the configuration derives the valid tool names
from it.

Adding a tool is: a `ToolOperation` in `TOOLS` (its models in `models.py`) and the backend methods
behind its capability. Adding a resource is a `ResourceOperation` in `RESOURCES`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel

from mcp_server.backends.base import (
    CAPABILITY_PROTOCOLS,
    Asks,
    Backend,
    Capability,
    ListsSources,
    OnDelta,
    ReadsCitations,
    ReadsTranscripts,
    SearchesCitations,
)
from mcp_server.conversations import ConversationSeal
from mcp_server.errors import NotFoundError, UpstreamProtocolError
from mcp_server.ids import CITATION_ID, CONVERSATION_ID, MAX_PAGE
from mcp_server.operations.models import (
    Args,
    AskArgs,
    AskResult,
    CitationOut,
    Link,
    ListSourcesArgs,
    ListSourcesResult,
    SearchCitationsArgs,
    SearchCitationsResult,
    ask_result,
    citation_links,
    render_ask,
    render_citations,
    render_sources,
    sources_result,
)

A = TypeVar("A", bound=Args)
R = TypeVar("R", bound=BaseModel)
B = TypeVar("B", bound=Backend)


@dataclass(frozen=True, slots=True)
class Call:
    """One call of an operation on one agent, on behalf of one principal."""

    agent: str
    backend: Backend
    principal: str
    seal: ConversationSeal
    reveals_config: bool = False  # the caller may see the operator's prompt and upstream ids
    on_delta: OnDelta | None = None  # set when the client asked for progress on a streaming operation

    def needs(self, protocol: type[B]) -> B:
        """The backend as `protocol`; the registry offers an operation only where this holds."""
        if (type(self.backend), protocol) not in _SATISFIED:
            if not isinstance(self.backend, protocol):
                raise AssertionError(f"{type(self.backend).__name__} lacks {protocol.__name__}")  # pragma: no cover
            # A protocol check looks up every member of the protocol (~2 % of a call's CPU); a backend's
            # capabilities belong to its class, so one check per class and protocol holds for all its instances.
            _SATISFIED.add((type(self.backend), protocol))
        return self.backend  # pyright: ignore[reportReturnType]  # checked above, for this class


_SATISFIED: set[tuple[type, type]] = set()


def no_conversation(conversation_id: str) -> NotFoundError:
    """The one answer for a conversation that does not exist and for one that is someone else's."""
    return NotFoundError(
        f"no conversation {conversation_id} for this caller (conversation ids belong to the token that started "
        "them). Ask without conversation_id to start a new conversation."
    )


def _upstream_conversation(call: Call, conversation_id: str) -> str:
    upstream_id = call.seal.open(call.principal, call.agent, conversation_id)
    if upstream_id is None:
        raise no_conversation(conversation_id)
    return upstream_id


# -- tools ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolOperation(Generic[A, R]):
    name: str
    title: str  # "{title}" is the agent's title
    description: str  # "{description}" is the agent's description
    args: type[A]
    result: type[R]
    needs: Capability
    idempotent: bool
    streams: bool  # relays progress (answer pieces, heartbeats) when the client asks for it
    run: Callable[[Call, A], Awaitable[R]]
    render: Callable[[R], str]
    links: Callable[[str, R], list[Link]] | None = None  # resources the result points at, for agent `str`

    def titled(self, agent_title: str) -> str:
        return self.title.format(title=agent_title)

    def described(self, agent_description: str) -> str:
        return self.description.format(description=agent_description)


async def _ask(call: Call, args: AskArgs) -> AskResult:
    upstream_id = _upstream_conversation(call, args.conversation_id) if args.conversation_id else None
    answer = await call.needs(Asks).ask(args.question, upstream_id, call.on_delta, caller=call.principal)
    try:
        sealed = call.seal.seal(call.principal, call.agent, answer.conversation_id)
    except ValueError:
        raise UpstreamProtocolError(
            "the upstream answered with a conversation id the bridge cannot use. Retry."
        ) from None
    return ask_result(replace(answer, conversation_id=sealed))


async def _search_citations(call: Call, args: SearchCitationsArgs) -> SearchCitationsResult:
    found = await call.needs(SearchesCitations).search_citations(args.query, args.limit)
    return SearchCitationsResult(citations=[CitationOut.of(c) for c in found])


async def _list_sources(call: Call, args: ListSourcesArgs) -> ListSourcesResult:
    return sources_result(await call.needs(ListsSources).list_sources(args.page))


TOOLS: Final[dict[str, ToolOperation[Any, Any]]] = {
    op.name: op
    for op in (
        ToolOperation(
            name="ask",
            title="Ask {title}",
            description=(
                "Ask {description}. Returns the answer, the sources it cites, and a conversation_id; pass that "
                "conversation_id back to ask a follow-up in the same conversation. Answers may take tens of seconds."
            ),
            args=AskArgs,
            result=AskResult,
            needs="ask",
            idempotent=False,
            streams=True,
            run=_ask,
            render=render_ask,
            links=lambda agent, result: citation_links(agent, result.citations),
        ),
        ToolOperation(
            name="search_citations",
            title="Find sources in {title}",
            description=(
                "Find the documents in {description} that answer a query: title, url and description of each "
                "source, for when you want references rather than prose."
            ),
            args=SearchCitationsArgs,
            result=SearchCitationsResult,
            needs="search",
            idempotent=True,
            streams=True,  # no pieces, but heartbeats: a search is a full upstream answer
            run=_search_citations,
            render=render_citations,
            links=lambda agent, result: citation_links(agent, result.citations),
        ),
        ToolOperation(
            name="list_sources",
            title="List the sources of {title}",
            description=(
                "List the data sources (sitemaps, uploads) and indexed pages of {description}, with their crawl "
                "and index status, 20 pages at a time."
            ),
            args=ListSourcesArgs,
            result=ListSourcesResult,
            needs="sources",
            idempotent=True,
            streams=False,
            run=_list_sources,
            render=render_sources,
        ),
    )
}

TOOL_NAMES: Final = tuple(TOOLS)


def tools_for(capabilities: Iterable[Capability]) -> tuple[str, ...]:
    """The tools a backend with these capabilities serves, in registry order."""
    available = frozenset(capabilities)
    return tuple(name for name, op in TOOLS.items() if op.needs in available)


# -- resources ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceOperation:
    """`agent://{agent}/<path>`: `path` is the regex (named groups are the template's variables)."""

    name: str
    template: str
    path: str
    title: str
    description: str
    needs: Capability | None  # None: every agent has it
    gate: str | None  # a caller sees it only if it may use this tool (the same data)
    listed: bool  # a concrete resource in resources/list, not only a template
    read: Callable[[Call, dict[str, str]], Awaitable[Any]]


async def _settings(call: Call, _: dict[str, str]) -> Any:
    settings = await call.backend.settings()
    return {**settings.public, **settings.operator} if call.reveals_config else settings.public


async def _sources(call: Call, _: dict[str, str]) -> Any:
    listing = sources_result(await call.needs(ListsSources).list_sources(1))
    return {"items": [s.model_dump(mode="json") for s in listing.sources]}


async def _pages(call: Call, variables: dict[str, str]) -> Any:
    page = int(variables.get("page") or 1)
    if page > MAX_PAGE:
        raise NotFoundError(f"no page {page}; pages run from 1 to at most {MAX_PAGE}.")
    listing = sources_result(await call.needs(ListsSources).list_sources(page))
    return {
        "items": [p.model_dump(mode="json") for p in listing.pages],
        "page": listing.page,
        "last_page": listing.last_page,
        "total_documents": listing.total_documents,
    }


async def _conversation(call: Call, variables: dict[str, str]) -> Any:
    conversation_id = variables["conversation_id"]
    transcript = await call.needs(ReadsTranscripts).transcript(_upstream_conversation(call, conversation_id))
    return {
        "conversation_id": conversation_id,
        "name": transcript.name,
        "messages": [
            {
                "id": m.id,
                "question": m.question,
                "answer": m.answer,
                "created_at": m.created_at,
                "citations": list(m.citation_ids),
            }
            for m in transcript.messages
        ],
    }


async def _citation(call: Call, variables: dict[str, str]) -> Any:
    citation = await call.needs(ReadsCitations).citation(variables["citation_id"])
    return CitationOut.of(citation).model_dump(mode="json")


RESOURCES: Final[tuple[ResourceOperation, ...]] = (
    ResourceOperation(
        "settings",
        "agent://{agent}/settings",
        r"settings",
        "settings",
        "The agent's settings: model, citation options (the operator's prompt only for tokens allowed to see it).",
        needs=None,
        gate=None,
        listed=True,
        read=_settings,
    ),
    ResourceOperation(
        "sources",
        "agent://{agent}/sources",
        r"sources",
        "data sources",
        "The agent's data sources (sitemaps, uploads).",
        needs="sources",
        gate="list_sources",
        listed=True,
        read=_sources,
    ),
    ResourceOperation(
        "pages",
        "agent://{agent}/pages{?page}",
        r"pages(?:\?page=(?P<page>[1-9][0-9]{0,5}))?",
        "indexed pages",
        "The agent's indexed pages with crawl/index status, 20 a page.",
        needs="sources",
        gate="list_sources",
        listed=True,
        read=_pages,
    ),
    ResourceOperation(
        "conversation",
        "agent://{agent}/conversations/{conversation_id}",
        rf"conversations/(?P<conversation_id>{CONVERSATION_ID.pattern})",
        "conversation",
        "A conversation's transcript (only the caller's own conversations).",
        needs="transcripts",
        gate="ask",
        listed=False,
        read=_conversation,
    ),
    ResourceOperation(
        "citation",
        "agent://{agent}/citations/{citation_id}",
        rf"citations/(?P<citation_id>{CITATION_ID.pattern})",
        "citation",
        "One cited source: title, url, description, image.",
        needs="citations",
        gate=None,
        listed=False,
        read=_citation,
    ),
)


def unimplemented(backend_class: type[Backend]) -> list[str]:
    """The capabilities `backend_class` states without implementing their methods (empty when sound)."""
    missing: list[str] = []
    for name in sorted(backend_class.CAPABILITIES):
        methods = [m for m, v in vars(CAPABILITY_PROTOCOLS[name]).items() if not m.startswith("_") and callable(v)]
        if any(not callable(getattr(backend_class, m, None)) for m in methods):
            missing.append(name)
    return missing


__all__ = [
    "RESOURCES",
    "TOOLS",
    "TOOL_NAMES",
    "Call",
    "ResourceOperation",
    "ToolOperation",
    "no_conversation",
    "tools_for",
]
