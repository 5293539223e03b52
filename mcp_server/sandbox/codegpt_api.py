"""CodeGPT's shapes, as the sandbox serves them under `/api/v1` (each project is an agent whose id is
the project's number, and each of its documents a CodeGPT document with a UUID):

* `POST /chat/completions` `{"agentId", "messages", "stream", "format"}`: plain, SSE
  (`format: "json"`, ending `data: [DONE]`) or the answer's raw text (`format: "text"`);
* `GET /agent`, `GET /agent/{id}` (`?populate=agent_documents` puts the document objects in
  `agent_documents`, else their ids), `GET /document`, `GET /document/{id}`.

With `--codegpt-org ORG`, the agent and document endpoints want `CodeGPT-Org-Id: ORG` (403 without).
Error bodies are `{"message": ...}` (CodeGPT's own are undocumented).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_server.sandbox.completions import completion_response, user_question
from mcp_server.sandbox.corpus import Document, Project
from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.openai_api import Answerer
from mcp_server.sandbox.search import pieces
from mcp_server.sandbox.streams import Stats, TrackedStream, answer_pieces
from mcp_server.sandbox.wire import Refused

ORG_HEADER: Final = "codegpt-org-id"
MODEL: Final = "gpt-4o"


def codegpt_error(request: Request, refused: Refused, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"message": str(refused), "statusCode": refused.status}, refused.status, headers=headers)


def document_id(document: Document) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, document.url))


def document_json(document: Document, *, content: bool) -> dict[str, Any]:
    text = "\n\n".join(document.passages)
    metadata: dict[str, Any] = {
        "title": document.title,
        "description": document.description,
        "language": "en",
        "keywords": [],
    }
    body: dict[str, Any] = {
        "id": document_id(document),
        "user_id": "sandbox-user",
        "name": f"{document.stem}.md",
        "file_type": "md",
        # CodeGPT stores metadata as a JSON string; clients parse it.
        "metadata": json.dumps(metadata),
        "tokens": len(text.split()),
        "chunks_count": len(document.passages),
    }
    return {**body, "content": text} if content else body


class CodeGPTAPI:
    def __init__(
        self, projects: dict[int, Project], answer: Answerer, stats: Stats, drip: Callable[[], float], org: str | None
    ) -> None:
        self._projects = projects
        self._answer = answer
        self._stats = stats
        self._drip = drip
        self._org = org
        self._documents = {document_id(d): d for p in projects.values() for d in p.documents}

    def _check_org(self, request: Request) -> None:
        if self._org is not None and request.headers.get(ORG_HEADER) != self._org:
            raise Refused("Organization not found: send the CodeGPT-Org-Id header of the agent's organization", 403)

    def _agent_project(self, raw: str) -> Project:
        project = self._projects.get(int(raw)) if raw.isdigit() else None
        if project is None:
            raise Refused(f"Agent with id {raw or '(none)'} not found")
        return project

    def _agent_json(self, project: Project, populate: bool) -> dict[str, Any]:
        documents = [document_json(d, content=False) if populate else document_id(d) for d in project.documents]
        return {
            "id": str(project.id),
            "name": project.name,
            "prompt": "You answer only from the documents of this agent.",
            "model": MODEL,
            "agent_documents": documents,
            "welcome": f"Ask {project.name} anything",
            "pincode": None,
            "is_public": False,
            "agent_type": "qa",
        }

    async def agents(self, request: Request) -> Response:
        self._check_org(request)
        return JSONResponse([self._agent_json(p, False) for p in self._projects.values()])

    async def agent(self, request: Request) -> Response:
        self._check_org(request)
        project = self._agent_project(request.path_params["agent_id"])
        populate = "agent_documents" in request.query_params.get("populate", "").split(",")
        return JSONResponse(self._agent_json(project, populate))

    async def documents(self, request: Request) -> Response:
        self._check_org(request)
        return JSONResponse([document_json(d, content=False) for d in self._documents.values()])

    async def document(self, request: Request) -> Response:
        self._check_org(request)
        found = self._documents.get(request.path_params["document_id"])
        if found is None:
            raise Refused(f"Document with id {request.path_params['document_id']} not found")
        return JSONResponse(document_json(found, content=True))

    async def chat_completions(self, request: Request, body: dict[str, Any]) -> Response:
        project = self._agent_project(str(body.get("agentId") or ""))
        question = user_question(body).strip()
        if not question:
            raise Refused("messages must contain a user message", 400)
        retrieved = self._answer(project, question)
        fault: Fault | None = request.state.fault
        if body.get("stream") and body.get("format") == "text":
            return self._text_stream(retrieved.text, fault)
        return completion_response(
            f"chatcmpl-{uuid.uuid4().hex[:24]}",
            int(time.time()),
            retrieved.text,
            None,
            stream=bool(body.get("stream")),
            fault=fault,
            drip=self._drip(),
            stats=self._stats,
            model=MODEL,
        )

    def _text_stream(self, answer: str, fault: Fault | None) -> Response:
        """`format: "text"`: the answer's raw text in pieces, no framing and no end marker."""
        outcome: dict[str, bool] = {}

        async def chunks() -> AsyncIterator[str]:
            async for part in answer_pieces(pieces(answer), fault, self._drip(), outcome):
                yield part
            if not outcome.get("truncated"):
                outcome["finished"] = True

        return TrackedStream(chunks(), self._stats, outcome, media_type="text/plain; charset=utf-8")
