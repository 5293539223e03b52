"""The sandbox: a local CustomGPT-compatible REST API serving folders of documents (plus a generic
OpenAI-compatible API, `openai_api.py`, and CodeGPT's shapes, `codegpt_api.py`).

A test and demo upstream, never the real service. Every API request passes `_guarded`, which checks
the key and applies any fault (see `faults.py`) before the endpoint runs; errors are written in the
shape of the API the request went to.
"""

from __future__ import annotations

import html
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_server.sandbox import wire
from mcp_server.sandbox.codegpt_api import CodeGPTAPI, codegpt_error
from mcp_server.sandbox.completions import (
    completion_response,
    not_supported_message,
    unsupported_parameter,
    user_question,
)
from mcp_server.sandbox.control import ControlAPI, PathLog
from mcp_server.sandbox.corpus import DOCS_HOST, Document, Project, load_demo, load_folder
from mcp_server.sandbox.faults import (
    RETRY_AFTER_SECONDS,
    STATUS_FAULTS,
    UNAVAILABLE_RETRY_AFTER_SECONDS,
    Fault,
    FaultBoard,
    UnknownFault,
    from_headers,
)
from mcp_server.sandbox.openai_api import DEMO_GIZMO, OpenAIAPI, openai_error
from mcp_server.sandbox.search import ProjectIndex, Retrieved, pieces
from mcp_server.sandbox.streams import ResetResponse, Stats, TrackedStream, answer_pieces, sse_event

Handler = Callable[[Request], Awaitable[Response]]
ErrorWriter = Callable[[Request, wire.Refused, "dict[str, str] | None"], Response]


def customgpt_error(request: Request, refused: wire.Refused, headers: dict[str, str] | None = None) -> Response:
    return wire.error(request, refused.status, str(refused), headers)


def openai_shaped_error(request: Request, refused: wire.Refused, headers: dict[str, str] | None = None) -> Response:
    return openai_error(request, refused.status, str(refused), headers, code=refused.code, param=refused.param)


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    api_key: str = "sandbox-key"
    corpora: tuple[Path, ...] = ()
    default_fault: Fault | None = None  # --fault: for requests that name no fault of their own
    latency: float = 0.0  # --latency: seconds before every /api/v1 response
    drip: float = 0.0  # --drip: seconds between streamed pieces
    docs_url: str = DOCS_HOST  # --docs-url: where the documents' public pages live (/docs here serves them)
    gizmos: tuple[tuple[str, Path], ...] = ()  # --gizmo g-XXXX=DIR: custom GPTs on the generic OpenAI API
    codegpt_org: str | None = None  # --codegpt-org: the CodeGPT-Org-Id the agent/document endpoints want
    stamp: bool = False  # --stamp: a conversation's streamed pieces start with their send time (benchmarks)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Sandbox:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        docs = settings.docs_url
        folders = [*settings.corpora, *(folder for _, folder in settings.gizmos)]
        projects = [load_demo(docs)] + [load_folder(i, p, docs) for i, p in enumerate(folders, start=2)]
        first_gizmo = 2 + len(settings.corpora)
        gizmos = {DEMO_GIZMO: projects[0]}
        gizmos.update({g: projects[first_gizmo - 1 + i] for i, (g, _) in enumerate(settings.gizmos)})
        self.projects: dict[int, Project] = {p.id: p for p in projects}
        self.indexes = {p.id: ProjectIndex(p) for p in projects}
        self.documents: dict[int, Document] = {d.id: d for p in projects for d in p.documents}
        self.conversations: dict[str, wire.Conversation] = {}
        self.faults = FaultBoard(settings.default_fault)
        self.stats = Stats()
        self._next_conversation = 1
        self._next_message = 1
        self.openai = OpenAIAPI(gizmos, self._retrieve, self.stats, lambda: self.settings.drip)
        self.codegpt = CodeGPTAPI(
            self.projects, self._retrieve, self.stats, lambda: self.settings.drip, settings.codegpt_org
        )

    # -- plumbing ---------------------------------------------------------------------------------

    def _guarded(self, handler: Handler, error: ErrorWriter = customgpt_error) -> Handler:
        async def endpoint(request: Request) -> Response:
            route = request.scope.get("route")
            self.stats.requests[getattr(route, "path", request.url.path)] += 1
            if self.settings.latency:
                await anyio.sleep(self.settings.latency)
            if request.headers.get("authorization") != f"Bearer {self.settings.api_key}":
                return error(request, wire.Refused("API Token is either missing or invalid", 401), None)
            try:
                fault = from_headers(request.headers) or self.faults.take(request.url.path)
            except UnknownFault as exc:
                return error(request, wire.Refused(str(exc), 400), None)
            request.state.fault = fault
            if fault is not None:
                self.stats.faults[fault.kind] += 1
                early = await self._apply(request, fault, error)
                if early is not None:
                    return early
            try:
                return await handler(request)
            except wire.Refused as exc:
                return error(request, exc, None)

        return endpoint

    async def _apply(self, request: Request, fault: Fault, error: ErrorWriter) -> Response | None:
        if fault.latency:
            await anyio.sleep(fault.latency)
        if fault.kind == "hang":
            self.stats.hanging += 1
            try:
                await _until_disconnected(request)
            finally:
                self.stats.hanging -= 1
            return Response(status_code=504)  # never sent: the client has gone
        if fault.kind in STATUS_FAULTS:
            status = STATUS_FAULTS[fault.kind]
            message = wire.CREDITS_MESSAGE if status == 429 else wire.STATUS_MESSAGES[status]
            retry_after = {429: RETRY_AFTER_SECONDS, 503: UNAVAILABLE_RETRY_AFTER_SECONDS}.get(status)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
            return error(request, wire.Refused(message, status), headers)
        if fault.kind == "malformed":
            return Response('{"status":"success","data":{"id":1,"openai_re', media_type="application/json")
        if fault.kind == "reset":
            return ResetResponse()
        if fault.kind == "slow" and not _wants_stream(request, await _json_body(request, strict=False)):
            await anyio.sleep(fault.drip)
        return None

    def _project(self, request: Request) -> Project:
        raw = request.path_params["project_id"]
        if not raw.isdigit():
            raise wire.Refused("Agent id must be integer", 400)
        project = self.projects.get(int(raw))
        if project is None:
            raise wire.Refused(f"Agent with id {raw} not found")
        return project

    def _conversation(self, request: Request, project: Project) -> wire.Conversation:
        session = request.path_params["session_id"]
        conversation = self.conversations.get(session)
        if conversation is None or conversation.project_id != project.id:
            raise wire.Refused(f"Conversation with session id {session} not found")
        return conversation

    # -- endpoints --------------------------------------------------------------------------------

    async def list_projects(self, request: Request) -> Response:
        name = request.query_params.get("name", "").lower()
        items = [wire.project_json(p) for p in self.projects.values() if name in p.name.lower()]
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

    async def conversation_list_or_create(self, request: Request) -> Response:
        project = self._project(request)
        if request.method == "POST":
            body = await _json_body(request)
            conversation = wire.Conversation(
                id=self._next_conversation,
                project_id=project.id,
                session_id=str(uuid.uuid4()),
                name=str(body.get("name") or "New conversation")[:255],
                created_at=_now(),
            )
            self._next_conversation += 1
            self.conversations[conversation.session_id] = conversation
            return wire.success(conversation.json(), status=201)
        items = [c.json() for c in reversed(self.conversations.values()) if c.project_id == project.id]
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
        body = await _json_body(request)
        prompt = str(body.get("prompt") or "").strip()
        if not prompt:
            raise wire.Refused("Prompt can't be empty", 400)
        retrieved = self.indexes[project.id].retrieve(prompt)
        citations = [d.id for d in retrieved.documents]
        if not _wants_stream(request, body):
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
            async for part in answer_pieces(parts, fault, self.settings.drip, outcome, stamp=self.settings.stamp):
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

        return TrackedStream(events(), self.stats, outcome)

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
        doc = self.documents.get(int(raw))
        if doc is None or doc.project_id != project.id:
            raise wire.Refused(f"Page with id {raw} not found")
        return wire.success(wire.citation_json(doc))

    async def chat_completions(self, request: Request) -> Response:
        """CustomGPT's per-project compatibility layer: 501 for what it does not support, in its envelope."""
        project = self._project(request)
        body = await _json_body(request)
        refused = unsupported_parameter(body)
        if refused is not None:
            raise wire.Refused(not_supported_message(refused), 501)
        return await self._completion(request, project, body)

    async def openai_completions(self, request: Request) -> Response:
        return await self.openai.chat_completions(request, await _json_body(request))

    def _retrieve(self, project: Project, question: str) -> Retrieved:
        return self.indexes[project.id].retrieve(question)

    async def codegpt_completions(self, request: Request) -> Response:
        """CodeGPT's shape: `POST /api/v1/chat/completions` naming the agent in the body as `agentId`."""
        return await self.codegpt.chat_completions(request, await _json_body(request))

    async def _completion(self, request: Request, project: Project, body: dict[str, Any]) -> Response:
        question = user_question(body).strip()
        if not question:
            raise wire.Refused("messages must contain a user message", 400)
        retrieved = self.indexes[project.id].retrieve(question)
        message = self._record(None, question, retrieved.text, [d.id for d in retrieved.documents])
        return completion_response(
            str(message["id"]),
            int(time.time()),
            retrieved.text,
            message["citations"],
            stream=bool(body.get("stream")),
            fault=request.state.fault,
            drip=self.settings.drip,
            stats=self.stats,
        )

    async def limits(self, request: Request) -> Response:
        return wire.success(
            {
                "max_projects_num": 10,
                "current_projects_num": len(self.projects),
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

    async def document_page(self, request: Request) -> Response:
        slug, stem = request.path_params["slug"], request.path_params["stem"]
        for document in self.documents.values():
            if document.stem == stem and self.projects[document.project_id].slug == slug:
                return Response(document_html(document), media_type="text/html")
        return Response("<h1>Not found</h1>", status_code=404, media_type="text/html")

    def routes(self) -> list[Route]:
        g = self._guarded
        p = "/api/v1/projects/{project_id}"
        return [
            Route("/api/v1/projects", g(self.list_projects)),
            Route(p, g(self.get_project)),
            Route(f"{p}/settings", g(self.project_settings)),
            Route(f"{p}/sources", g(self.project_sources)),
            Route(f"{p}/pages", g(self.project_pages)),
            Route(f"{p}/conversations", g(self.conversation_list_or_create), methods=["GET", "POST"]),
            Route(f"{p}/conversations/{{session_id}}/messages", g(self.message_list_or_send), methods=["GET", "POST"]),
            Route(f"{p}/conversations/{{session_id}}/messages/{{message_id}}", g(self.message)),
            Route(f"{p}/citations/{{citation_id}}", g(self.citation)),
            Route(f"{p}/chat/completions", g(self.chat_completions), methods=["POST"]),
            Route("/api/v1/chat/completions", g(self.codegpt_completions, codegpt_error), methods=["POST"]),
            Route("/api/v1/agent", g(self.codegpt.agents, codegpt_error)),
            Route("/api/v1/agent/{agent_id}", g(self.codegpt.agent, codegpt_error)),
            Route("/api/v1/document", g(self.codegpt.documents, codegpt_error)),
            Route("/api/v1/document/{document_id}", g(self.codegpt.document, codegpt_error)),
            Route("/api/v1/limits/usage", g(self.limits)),
            Route("/api/v1/user", g(self.user)),
            Route("/v1/chat/completions", g(self.openai_completions, openai_shaped_error), methods=["POST"]),
            Route("/v1/models", g(self.openai.models, openai_shaped_error)),
            Route("/docs/{slug}/{stem}", self.document_page),  # public, like a real site: no key
            *ControlAPI(self.settings.api_key, self.faults, self.stats).routes(),
        ]


def _wants_stream(request: Request, body: dict[str, Any]) -> bool:
    return request.query_params.get("stream", "").lower() in ("true", "1") or body.get("stream") in (True, 1, "1")


def _int(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() else default


def _page(request: Request) -> int:
    return max(1, _int(request.query_params.get("page"), 1))


async def _json_body(request: Request, strict: bool = True) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        if not strict:
            return {}
        raise wire.Refused("Request body must be JSON", 400) from None
    return body if isinstance(body, dict) else {}  # pyright: ignore[reportUnknownVariableType]


async def _until_disconnected(request: Request) -> None:
    """Wait for the client to give up (the body is read first, so the next ASGI message is the disconnect)."""
    await request.body()
    while (await request.receive())["type"] != "http.disconnect":
        pass


def document_html(document: Document) -> str:
    """A document as the public web page a knowledge base indexed: HTML with chrome around the text."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in document.passages)
    return (
        f"<!doctype html><html><head><title>{html.escape(document.title)}</title>"
        "<style>body { font-family: sans-serif }</style><script>window.analytics = [];</script></head>"
        f"<body><nav>Docs home</nav><main><h1>{html.escape(document.title)}</h1>{body}</main></body></html>"
    )


async def _client_gone(request: Request, _exc: Exception) -> Response:
    """A client that hangs up mid-request is normal (a timeout, a cancelled call): one line, no traceback."""
    logging.getLogger(__name__).info("client hung up before %s %s was answered", request.method, request.url.path)
    return Response(status_code=499)  # nobody reads it; the status only marks the request in access logs


def create_app(settings: SandboxSettings | None = None) -> Starlette:
    sandbox = Sandbox(settings or SandboxSettings())
    # PathLog wraps the router, so it sees every request (unrouted ones too) exactly as it arrived.
    app = Starlette(
        routes=sandbox.routes(),
        middleware=[Middleware(PathLog, stats=sandbox.stats)],
        exception_handlers={ClientDisconnect: _client_gone},
    )
    app.state.sandbox = sandbox
    return app
