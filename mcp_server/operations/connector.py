"""ChatGPT's connector contract (deep research, company knowledge): exactly `search` and `fetch`.

ChatGPT accepts a connector only if it offers these two tools with these shapes:

* `search(query)` returns exactly one text item: JSON `{"results": [{"id", "title", "url"}, ...]}`;
* `fetch(id)` returns exactly one text item: JSON `{"id", "title", "text", "url", "metadata"}`.

For a knowledge-base agent the most useful document is its grounded answer, so `search` asks every
agent the caller may ask (one upstream query each) and returns each answer as a result, followed by
the sources it cited. Both are filed in the `DocumentCache` for the caller, so `fetch` spends nothing
upstream. These operations run over all the agents of a view at once, unlike the per-agent tools.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, Final

import anyio
from pydantic import Field

from mcp_server.backends.base import Answer, Asks, Citation
from mcp_server.errors import CallError, NotFoundError
from mcp_server.operations import Call
from mcp_server.operations.models import Args
from mcp_server.page_fetcher import PageFetcher, PageFetchError, allowed
from mcp_server.research_cache import Document, DocumentCache, new_id


class SearchArgs(Args):
    query: Annotated[str, Field(min_length=1, max_length=2000, description="What to research, in plain language.")]


class FetchArgs(Args):
    id: Annotated[str, Field(min_length=1, max_length=64, description="An id from a search result.")]


@dataclass(frozen=True, slots=True)
class AgentCall:
    """One agent a connector operation may use, with its title for the results."""

    call: Call
    title: str
    page_hosts: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Shelf:
    """Where connector operations keep and find documents: the per-caller cache, and the page reader."""

    documents: DocumentCache
    pages: PageFetcher


@dataclass(frozen=True, slots=True)
class ConnectorOperation:
    name: str
    title: str
    description: str
    args: type[Args]
    run: Callable[[Sequence[AgentCall], Any, Shelf], Awaitable[dict[str, Any]]]


def _answer_document(agent: AgentCall, query: str, answer: Answer, sources: list[tuple[str, Citation]]) -> Document:
    text = answer.text
    if sources:
        listed = [f"[{i}] {c.title or c.url or c.id} <{c.url or 'no url'}>" for i, (_, c) in enumerate(sources, 1)]
        text += "\n\nSources:\n" + "\n".join(listed)
    return Document(
        id=new_id("ans"),
        title=f"{agent.title}: {query}"[:200],
        text=text,
        url=next((c.url for _, c in sources if c.url), ""),
        metadata={"agent": agent.call.agent, "kind": "answer", "question": query},
    )


def _source_document(agent: AgentCall, document_id: str, citation: Citation) -> Document:
    description = citation.description or "No description."
    where = f"Read the full page at {citation.url}." if citation.url else "The source has no public URL."
    return Document(
        id=document_id,
        title=citation.title or citation.url or f"Source {citation.id}",
        text=f"{description}\n\nThis is the source's description from the knowledge base, not its full text. {where}",
        url=citation.url or "",
        metadata={"agent": agent.call.agent, "kind": "source", "source_id": citation.id},
    )


async def _search(agents: Sequence[AgentCall], args: SearchArgs, shelf: Shelf) -> dict[str, Any]:
    found: dict[int, tuple[Document, list[Document]]] = {}
    failures: list[str] = []

    async def ask(index: int, agent: AgentCall) -> None:
        try:
            answer = await agent.call.needs(Asks).ask(args.query, None, None, caller=agent.call.principal)
        except CallError as exc:
            failures.append(exc.for_agent(agent.call.agent))
            return
        sources = [(new_id("src"), c) for c in answer.citations]
        found[index] = (
            _answer_document(agent, args.query, answer, sources),
            [_source_document(agent, i, c) for i, c in sources],
        )

    async with anyio.create_task_group() as tg:
        for index, agent in enumerate(agents):
            tg.start_soon(ask, index, agent)
    if not found:
        raise CallError(" ".join(failures) or "no agent could answer.")
    results: list[dict[str, str]] = []
    for index in sorted(found):
        answer, sources = found[index]
        for document in (answer, *sources):
            shelf.documents.put(agents[index].call.principal, document)
            results.append({"id": document.id, "title": document.title, "url": document.url})
    return {"results": results}


async def _fetch(agents: Sequence[AgentCall], args: FetchArgs, shelf: Shelf) -> dict[str, Any]:
    principal = agents[0].call.principal if agents else ""
    document = shelf.documents.get(principal, args.id)
    agent = next((a for a in agents if document and a.call.agent == document.metadata.get("agent")), None)
    if document is None or agent is None:
        raise NotFoundError(
            f"no document {args.id!r} for this caller (ids come from search, belong to the caller who searched and "
            "expire after an hour). Search again and fetch an id from its results."
        )
    if document.metadata.get("kind") == "source" and agent.page_hosts and allowed(document.url, agent.page_hosts):
        document = await _with_page_text(document, agent, shelf)
        shelf.documents.put(principal, document)
    return {
        "id": document.id,
        "title": document.title,
        "text": document.text,
        "url": document.url,
        "metadata": document.metadata,
    }


CONNECTOR_TOOLS: Final[dict[str, ConnectorOperation]] = {
    "search": ConnectorOperation(
        name="search",
        title="Search the knowledge bases",
        description=(
            "Research a question in {agents}. Each call asks every knowledge base once (one upstream query each) "
            "and returns its grounded answer and the sources it cites as results; fetch a result's id to read it."
        ),
        args=SearchArgs,
        run=_search,
    ),
    "fetch": ConnectorOperation(
        name="fetch",
        title="Read a search result",
        description=(
            "Read one result of search by its id: an answer's full text with its sources listed, or a source's "
            "title, URL and description. Costs no upstream query."
        ),
        args=FetchArgs,
        run=_fetch,
    ),
}


async def _with_page_text(document: Document, agent: AgentCall, shelf: Shelf) -> Document:
    """The source with its public page's text (read once, then kept with the document)."""
    if document.metadata.get("page") == "fetched":
        return document
    try:
        text = await shelf.pages.text(document.url, agent.page_hosts)
    except PageFetchError as exc:
        return replace(document, text=f"{document.text}\n\n(The page itself could not be read: {exc})")
    return replace(document, text=text, metadata={**document.metadata, "page": "fetched"})


def encoded(value: dict[str, Any]) -> str:
    """The one text item a connector tool returns: JSON that any text in it cannot break."""
    return json.dumps(value, ensure_ascii=False)
