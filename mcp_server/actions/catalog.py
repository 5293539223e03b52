"""Which registry operations the facade serves, at which REST path, under which operationId, and the
facade's own wire models (the answer envelope of a long answer, the continuation's arguments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, Field

from mcp_server.actions.answers import ANSWER_ID
from mcp_server.operations import TOOLS, ToolOperation
from mcp_server.operations.models import Args, CitationOut


@dataclass(frozen=True, slots=True)
class Endpoint:
    tool: str  # the registry's name
    operation_id: str  # ^[a-zA-Z0-9_-]{1,64}$ with the agent's name and '_' in front on the combined document
    method: Literal["GET", "POST"]  # GET: arguments in the query; POST: a JSON body
    path: str  # under /actions/{agent}/

    @property
    def operation(self) -> ToolOperation[Any, Any]:
        return TOOLS[self.tool]


ENDPOINTS: Final = (
    Endpoint("ask", "ask", "POST", "ask"),
    Endpoint("search_citations", "searchCitations", "GET", "citations"),
    Endpoint("list_sources", "listSources", "GET", "sources"),
)
ASK: Final = ENDPOINTS[0]
GET_ANSWER: Final = "getAnswer"


class AnswerOut(BaseModel):
    """What `ask` and `getAnswer` return: the answer when complete, else the text so far and an answer_id."""

    status: Literal["complete", "in_progress"] = Field(
        description="complete: the answer is final. in_progress: call getAnswer with answer_id for the rest."
    )
    answer: str = Field(description="The answer text (so far, when in_progress), from offset.")
    answer_id: str | None = Field(
        default=None, description="Pass to getAnswer when status is in_progress or next_offset is set."
    )
    next_offset: int | None = Field(
        default=None, description="Set when the answer was cut to fit: call getAnswer with this offset for the rest."
    )
    conversation_id: str | None = Field(
        default=None, description="Pass this back as conversation_id to ask a follow-up in the same conversation."
    )
    message_id: str | None = None
    citations: list[CitationOut] = Field(default_factory=list[CitationOut])


ANSWER_ID_SCHEMA: Final = {"type": "string", "pattern": f"^{ANSWER_ID.pattern}$"}


class GetAnswerArgs(Args):
    offset: Annotated[
        int, Field(ge=0, le=10_000_000, description="Characters of the answer to skip (next_offset).")
    ] = 0
