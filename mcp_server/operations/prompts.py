"""The prompts of an agent, declared once like its tools: a person picks one from the client's prompt
menu (or as a slash command) and pulls the agent's knowledge into the conversation.

* `ask(question)` asks the agent (one upstream query) and returns the question, the grounded answer and
  a link to each cited source.
* `source(source)` brings one of the agent's indexed documents (by title or URL, completed from the
  agent's cached source titles) into the conversation as links to its pages.

A prompt uses the data of one tool (`tool`): a caller is offered the prompt only where it may use that
tool of that agent (token scopes and the agent's own tool list), exactly as for the tool itself.
Multi-agent endpoints prefix prompt names with the agent name, as they do tool names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

from pydantic import Field
from pydantic.fields import FieldInfo

from mcp_server.errors import NotFoundError
from mcp_server.operations import TOOLS
from mcp_server.operations.completion import Completer, Lookup, source_titles
from mcp_server.operations.models import Args, AskArgs, AskResult, Link, citation_links, render_ask


class AskPromptArgs(Args):
    question: Annotated[str, Field(min_length=1, max_length=8000, description="The question, in plain language.")]


class SourcePromptArgs(Args):
    source: Annotated[
        str,
        Field(
            min_length=1,
            max_length=2000,
            description="The title or URL of one of the agent's indexed documents (completion lists them).",
        ),
    ]


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One message of a prompt: text, or a link to a resource."""

    role: Literal["user", "assistant"]
    text: str | None = None
    link: Link | None = None


@dataclass(frozen=True, slots=True)
class PromptOut:
    description: str
    messages: tuple[PromptMessage, ...]


@dataclass(frozen=True, slots=True)
class PromptArgument:
    name: str
    description: str
    required: bool


@dataclass(frozen=True, slots=True)
class PromptOperation:
    name: str
    title: str  # "{title}" is the agent's title
    description: str  # "{description}" is the agent's description
    args: type[Args]
    tool: str  # the tool whose data it uses; a caller who may not use that tool does not see the prompt
    get: Callable[[Lookup, Any], Awaitable[PromptOut]]
    completes: dict[str, Completer] = field(default_factory=dict[str, Completer])  # argument -> completer

    def titled(self, agent_title: str) -> str:
        return self.title.format(title=agent_title)

    def described(self, agent_description: str) -> str:
        return self.description.format(description=agent_description)

    def arguments(self) -> list[PromptArgument]:
        return [_argument(name, info) for name, info in self.args.model_fields.items()]


def _argument(name: str, info: FieldInfo) -> PromptArgument:
    return PromptArgument(name=name, description=info.description or name, required=info.is_required())


async def _ask(prompt: Lookup, args: AskPromptArgs) -> PromptOut:
    result: AskResult = await TOOLS["ask"].run(prompt.call, AskArgs(question=args.question))
    messages = [
        PromptMessage("user", text=f"Question for {prompt.title}: {args.question}"),
        PromptMessage("assistant", text=render_ask(result)),
    ]
    messages += [PromptMessage("assistant", link=link) for link in citation_links(prompt.call.agent, result.citations)]
    cited = f" citing {len(result.citations)} source(s)" if result.citations else ""
    return PromptOut(description=f"{prompt.title}'s answer{cited}", messages=tuple(messages))


async def _source(prompt: Lookup, args: SourcePromptArgs) -> PromptOut:
    catalog = await prompt.sources()
    pages = catalog.find(args.source)
    if not pages:
        raise NotFoundError(
            "none of its indexed documents has that title or URL. Complete the source argument (the client lists "
            "the titles as you type) or call list_sources to see them."
        )
    title = pages[0].title or pages[0].url
    lines = [f"A source from {prompt.title}: {title}"]
    lines += [f"- {p.url} (crawl: {p.crawl_status}, index: {p.index_status})" for p in pages]
    links = [
        Link(uri=p.url, name=f"{prompt.call.agent}-page-{p.id}", title=p.title or p.url, description=title)
        for p in pages
    ]
    messages = [PromptMessage("user", text="\n".join(lines))]
    messages += [PromptMessage("user", link=link) for link in links]
    return PromptOut(description=f"{title} ({prompt.title})", messages=tuple(messages))


PROMPTS: Final[dict[str, PromptOperation]] = {
    op.name: op
    for op in (
        PromptOperation(
            name="ask",
            title="Ask {title}",
            description=(
                "Ask {description}, and bring the question, the answer and its sources into the conversation. "
                "Spends one upstream query (a query credit on CustomGPT) each time it is used."
            ),
            args=AskPromptArgs,
            tool="ask",
            get=_ask,
        ),
        PromptOperation(
            name="source",
            title="Source from {title}",
            description=(
                "Bring one indexed document of {description} into the conversation as links to its pages "
                "(no upstream query; the titles are completed as you type)."
            ),
            args=SourcePromptArgs,
            tool="list_sources",
            get=_source,
            completes={"source": source_titles},
        ),
    )
}

__all__ = ["PROMPTS", "PromptMessage", "PromptOperation", "PromptOut"]
