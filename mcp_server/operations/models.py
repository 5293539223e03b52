"""The operations' wire models: arguments and results (their JSON schemas are the MCP and OpenAPI
schemas), and the readable text each result carries beside its structured content."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mcp_server.backends.base import Answer, Citation, SourceListing
from mcp_server.ids import MAX_PAGE, ConversationId


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AskArgs(Args):
    question: Annotated[str, Field(min_length=1, max_length=8000, description="The question, in plain language.")]
    conversation_id: Annotated[
        ConversationId | None,
        Field(
            default=None,
            description="The conversation_id of an earlier answer, to ask a follow-up in the same conversation.",
        ),
    ] = None


class SearchCitationsArgs(Args):
    query: Annotated[str, Field(min_length=1, max_length=2000, description="What the sources should be about.")]
    limit: Annotated[int, Field(ge=1, le=20, description="At most this many sources (1-20).")] = 5


class ListSourcesArgs(Args):
    page: Annotated[int, Field(ge=1, le=MAX_PAGE, description="Page of indexed documents, from 1.")] = 1


class CitationOut(BaseModel):
    id: str
    title: str | None = None
    url: str | None = None
    description: str | None = None
    image: str | None = None

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(id=c.id, title=c.title, url=c.url, description=c.description, image=c.image)


class AskResult(BaseModel):
    answer: str
    conversation_id: str = Field(description="Pass this back as conversation_id to continue the conversation.")
    message_id: str | None = None
    citations: list[CitationOut]


class SearchCitationsResult(BaseModel):
    citations: list[CitationOut]


class SourceOut(BaseModel):
    id: str
    kind: str
    location: str | None = None
    page_count: int


class PageOut(BaseModel):
    id: str
    url: str
    title: str | None = Field(default=None, exclude_if=lambda title: title is None)  # left out when unknown
    crawl_status: str
    index_status: str


class ListSourcesResult(BaseModel):
    sources: list[SourceOut]
    pages: list[PageOut]
    page: int
    last_page: int
    total_documents: int = Field(description="Indexed documents (pages and files) in all, across every page.")


@dataclass(frozen=True, slots=True)
class Link:
    """A resource a result points at (an MCP `resource_link`): a face shows it and lets the client open it."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None


def citation_uri(agent: str, citation_id: str) -> str:
    return f"agent://{agent}/citations/{citation_id}"


def citation_links(agent: str, citations: list[CitationOut]) -> list[Link]:
    """Each cited source as a link to its `agent://{agent}/citations/{id}` resource (JSON: title, url, ...)."""
    return [
        Link(
            uri=citation_uri(agent, c.id),
            name=f"{agent}-citation-{c.id}",
            title=c.title or c.url or f"source {c.id}",
            description=c.url,
            mime_type="application/json",
        )
        for c in citations
    ]


def ask_result(answer: Answer) -> AskResult:
    return AskResult(
        answer=answer.text,
        conversation_id=answer.conversation_id,
        message_id=answer.message_id,
        citations=[CitationOut.of(c) for c in answer.citations],
    )


def sources_result(listing: SourceListing) -> ListSourcesResult:
    return ListSourcesResult(
        sources=[
            SourceOut(id=s.id, kind=s.kind, location=s.location, page_count=s.page_count) for s in listing.sources
        ],
        pages=[
            PageOut(id=p.id, url=p.url, title=p.title, crawl_status=p.crawl_status, index_status=p.index_status)
            for p in listing.pages
        ],
        page=listing.page,
        last_page=listing.last_page,
        total_documents=listing.total_pages,
    )


def _citation_lines(citations: list[CitationOut]) -> list[str]:
    lines: list[str] = []
    for i, c in enumerate(citations, 1):
        label = c.title or c.url or f"source {c.id}"
        line = f"[{i}] {label}" + (f" <{c.url}>" if c.url and c.url != label else "")
        if c.description:
            line += f" - {c.description}"
        lines.append(line)
    return lines


def render_ask(result: AskResult) -> str:
    parts = [result.answer]
    if result.citations:
        parts.append("Sources:\n" + "\n".join(_citation_lines(result.citations)))
    parts.append(f"(conversation_id: {result.conversation_id})")
    return "\n\n".join(parts)


def render_citations(result: SearchCitationsResult) -> str:
    if not result.citations:
        return "No sources in the knowledge base match this query."
    return "\n".join(_citation_lines(result.citations))


def render_sources(result: ListSourcesResult) -> str:
    lines = [f"Sources ({len(result.sources)}):"]
    lines += [f"- {s.kind} {s.location or s.id} ({s.page_count} pages)" for s in result.sources]
    lines.append(
        f"Indexed documents, listing page {result.page} of {result.last_page} ({result.total_documents} in all):"
    )
    lines += [f"- {p.title or p.url} <{p.url}> crawl: {p.crawl_status}, index: {p.index_status}" for p in result.pages]
    return "\n".join(lines)
