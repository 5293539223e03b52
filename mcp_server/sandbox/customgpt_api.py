"""CustomGPT's own API, as the sandbox serves it under `/api/v1`: projects (settings, sources, pages),
conversations and their messages (plain or SSE), citations, the per-project `chat/completions`
compatibility layer, `limits/usage` and `user`.

Conversations and messages live in memory. Endpoints raise `wire.Refused` for errors; the guard
(`guard.py`) writes them in CustomGPT's envelope.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mcp_server.sandbox import wire
from mcp_server.sandbox.completions import (
    completion_response,
    not_supported_message,
    unsupported_parameter,
    user_question,
)
from mcp_server.sandbox.corpus import Document, Project
from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.openai_api import Answerer
from mcp_server.sandbox.search import pieces
from mcp_server.sandbox.streams import Stats, TrackedStream, answer_pieces, sse_event


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _int(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() else default


def _page(request: Request) -> int:
    return max(1, _int(request.query_params.get("page"), 1))


class CustomGPTAPI:
    def __init__(
        self, projects: dict[int, Project], answer: Answerer, stats: Stats, drip: Callable[[], float], stamp: bool
    ) -> None:
        self._projects = projects
        self._answer = answer
        self._stats = stats
        self._drip = drip
        self._stamp = stamp  # --stamp: a conversation's streamed pieces start with their send time
        self._documents: dict[int, Document] = {d.id: d for p in projects.values() for d in p.documents}
        self._conversations: dict[str, wire.Conversation] = {}
        self._next_conversation = 1
        self._next_message = 1

    def _project(self, request: Request) -> Project:
        raw = request.path_params["project_id"]
        if not raw.isdigit():
            raise wire.Refused("Agent id must be integer", 400)
        project = self._projects.get(int(raw))
        if project is None:
            raise wire.Refused(f"Agent with id {raw} not found")
        return project

    def _conversation(self, request: Request, project: Project) -> wire.Conversation:
        session = request.path_params["session_id"]
        conversation = self._conversations.get(session)
        if conversation is None or conversation.project_id != project.id:
            raise wire.Refused(f"Conversation with session id {session} not found")
        return conversation

    # -- projects ---------------------------------------------------------------------------------

    async def list_projects(self, request: Request) -> Response:
        name = request.query_params.get("name", "").lower()
        items = [wire.project_json(p) for p in self._projects.values() if name in p.name.lower()]
        if request.query_params.get("order", "desc") == "desc":  # upstream's default: newest (highest id) first
            items.reverse()
        return wire.success(wire.paginate(request, items, _page(request), 10))

    async def get_project(self, request: Request) -> Response:
        return wire.success(wire.project_json(self._project(request)))

    async def project_settings(self, request: Request) -> Response:
        return wire.success(wire.settings_json(self._project(request)))

    async def project_sources(self, request: Request) -> Response:
        project = self._project(request)
        upload = {
            "id": project.id * 10,
            "created_at": wire.CREATED_AT,
            "updated_at": wire.CREATED_AT,
            "type": "upload",
            # data_refresh_frequency / refresh_existing_pages are left out: the spec nests their enums in a
            # list ([["never", ...]]), so no real value validates.
            "settings": {"executive_js": False, "create_new_pages": True, "remove_unexist_pages": False},
            "pages": [wire.page_json(d) for d in project.documents],
        }
        return wire.success({"sitemaps": [], "uploads": upload})

    async def project_pages(self, request: Request) -> Response:
        project = self._project(request)
        limit = min(max(_int(request.query_params.get("limit"), 20), 1), 100)
        items = [wire.page_json(d) for d in project.documents]
        if request.query_params.get("order", "desc") == "desc":
            items.reverse()
        return wire.success(
            {"project": wire.project_json(project), "pages": wire.paginate(request, items, _page(request), limit)}
        )

    # -- conversations and messages ---------------------------------------------------------------

    async def conversation_list_or_create(self, request: Request) -> Response:
        project = self._project(request)
        if request.method == "POST":
            body = await wire.json_body(request)
            conversation = wire.Conversation(
                id=self._next_conversation,
                project_id=project.id,
                session_id=str(uuid.uuid4()),
                name=str(body.get("name") or "New conversation")[:255],
                created_at=_now(),
            )
            self._next_conversation += 1
            self._conversations[conversation.session_id] = conversation
            return wire.success(conversation.json(), status=201)
        items = [c.json() for c in reversed(self._conversations.values()) if c.project_id == project.id]
        return wire.success(wire.paginate(request, items, _page(request), 10))

    async def message_list_or_send(self, request: Request) -> Response:
        project = self._project(request)
        conversation = self._conversation(request, project)
        if request.method == "GET":
            items = list(conversation.messages)
            if request.query_params.get("order", "desc") == "desc":
                items.reverse()
            return wire.success(
                {"conversation": conversation.json(), "messages": wire.paginate(request, items, _page(request), 20)}
            )
        body = await wire.json_body(request)
        prompt = str(body.get("prompt") or "").strip()
        if not prompt:
            raise wire.Refused("Prompt can't be empty", 400)
        retrieved = self._answer(project, prompt)
        citations = [d.id for d in retrieved.documents]
        if not wire.wants_stream(request, body):
            return wire.success(self._record(conversation, prompt, retrieved.text, citations))
        return self._stream_message(request, conversation, prompt, retrieved.text, citations)

    def _record(
        self, conversation: wire.Conversation | None, prompt: str, answer: str, citations: list[int]
    ) -> dict[str, Any]:
        """A new prompt-history entry (chat completions take an id but belong to no conversation)."""
        source = "api" if conversation is not None else "api-openai"
        message = wire.message_json(self._next_message, prompt, answer, citations, _now(), source)
        self._next_message += 1
        if conversation is not None:
            conversation.messages.append(message)
        return message

    def _stream_message(
        self, request: Request, conversation: wire.Conversation, prompt: str, answer: str, citations: list[int]
    ) -> Response:
        fault: Fault | None = request.state.fault
        outcome: dict[str, bool] = {}
        parts = pieces(answer)

        async def events() -> AsyncIterator[str]:
            yield sse_event({"status": "start", "prompt": prompt}, "start")
            async for part in answer_pieces(parts, fault, self._drip(), outcome, stamp=self._stamp):
                yield sse_event({"status": "progress", "message": part}, "progress")
            if outcome.get("truncated"):
                return
            message = self._record(conversation, prompt, answer, citations)
            yield sse_event(
                {
                    "status": "finish",
                    "id": message["id"],
                    "created_at": message["created_at"],
                    "session_id": conversation.session_id,
                    "citations": citations,
                },
                "finish",
            )
            outcome["finished"] = True

        return TrackedStream(events(), self._stats, outcome)

    async def message(self, request: Request) -> Response:
        conversation = self._conversation(request, self._project(request))
        raw = request.path_params["message_id"]
        if not raw.isdigit():
            raise wire.Refused("Message id must be integer", 400)
        found = next((m for m in conversation.messages if m["id"] == int(raw)), None)
        if found is None:
            raise wire.Refused(f"Conversation message with id {raw} not found")
        return wire.success(found)

    async def citation(self, request: Request) -> Response:
        project = self._project(request)
        raw = request.path_params["citation_id"]
        if not raw.isdigit():
            raise wire.Refused("Citation id must be integer", 400)
        doc = self._documents.get(int(raw))
        if doc is None or doc.project_id != project.id:
            raise wire.Refused(f"Page with id {raw} not found")
        return wire.success(wire.citation_json(doc))

    # -- chat completions -------------------------------------------------------------------------

    async def chat_completions(self, request: Request) -> Response:
        """CustomGPT's per-project compatibility layer: 501 for what it does not support, in its envelope."""
        project = self._project(request)
        body = await wire.json_body(request)
        refused = unsupported_parameter(body)
        if refused is not None:
            raise wire.Refused(not_supported_message(refused), 501)
        return await self._completion(request, project, body)

    async def _completion(self, request: Request, project: Project, body: dict[str, Any]) -> Response:
        question = user_question(body).strip()
        if not question:
            raise wire.Refused("messages must contain a user message", 400)
        retrieved = self._answer(project, question)
        message = self._record(None, question, retrieved.text, [d.id for d in retrieved.documents])
        return completion_response(
            str(message["id"]),
            int(time.time()),
            retrieved.text,
            message["citations"],
            stream=bool(body.get("stream")),
            fault=request.state.fault,
            drip=self._drip(),
            stats=self._stats,
        )

    # -- account ----------------------------------------------------------------------------------

    async def limits(self, request: Request) -> Response:
        return wire.success(
            {
                "max_projects_num": 10,
                "current_projects_num": len(self._projects),
                "max_total_storage_credits": 1000,
                "current_total_storage_credits": 1,
                "max_queries": 1000,
                "current_queries": self._next_message - 1,
            }
        )

    async def user(self, request: Request) -> Response:
        return wire.success(
            {
                "id": 1,
                "name": "Sandbox User",
                "email": "user@sandbox.local",
                "current_team_id": 1,
                "profile_photo_url": "https://docs.sandbox.local/avatar.png",
                "created_at": wire.CREATED_AT,
                "updated_at": wire.CREATED_AT,
            }
        )
