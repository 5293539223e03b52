"""The sandbox: a local CustomGPT-compatible REST API serving folders of documents (plus a generic
OpenAI-compatible API, `openai_api.py`, and CodeGPT's shapes, `codegpt_api.py`).

A test and demo upstream, never the real service. This module loads the projects, builds the APIs
(`customgpt_api.py`, `openai_api.py`, `codegpt_api.py`, `control.py`) and routes every path to one;
each API route passes the guard (`guard.py`), which checks the key and applies any fault (see
`faults.py`) before the endpoint runs.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_server.sandbox import wire
from mcp_server.sandbox.codegpt_api import CodeGPTAPI, codegpt_error
from mcp_server.sandbox.control import ControlAPI, PathLog
from mcp_server.sandbox.corpus import DOCS_HOST, Document, Project, load_demo, load_folder
from mcp_server.sandbox.customgpt_api import CustomGPTAPI
from mcp_server.sandbox.faults import Fault, FaultBoard
from mcp_server.sandbox.guard import Guard, openai_shaped_error
from mcp_server.sandbox.openai_api import DEMO_GIZMO, OpenAIAPI
from mcp_server.sandbox.search import ProjectIndex, Retrieved
from mcp_server.sandbox.streams import Stats


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
        self.faults = FaultBoard(settings.default_fault)
        self.stats = Stats()
        self.guard = Guard(settings.api_key, settings.latency, self.faults, self.stats)
        self.customgpt = CustomGPTAPI(
            self.projects, self._retrieve, self.stats, lambda: self.settings.drip, settings.stamp
        )
        self.openai = OpenAIAPI(gizmos, self._retrieve, self.stats, lambda: self.settings.drip)
        self.codegpt = CodeGPTAPI(
            self.projects, self._retrieve, self.stats, lambda: self.settings.drip, settings.codegpt_org
        )

    def _retrieve(self, project: Project, question: str) -> Retrieved:
        return self.indexes[project.id].retrieve(question)

    async def openai_completions(self, request: Request) -> Response:
        return await self.openai.chat_completions(request, await wire.json_body(request))

    async def codegpt_completions(self, request: Request) -> Response:
        """CodeGPT's shape: `POST /api/v1/chat/completions` naming the agent in the body as `agentId`."""
        return await self.codegpt.chat_completions(request, await wire.json_body(request))

    async def document_page(self, request: Request) -> Response:
        slug, stem = request.path_params["slug"], request.path_params["stem"]
        for document in self.documents.values():
            if document.stem == stem and self.projects[document.project_id].slug == slug:
                return Response(document_html(document), media_type="text/html")
        return Response("<h1>Not found</h1>", status_code=404, media_type="text/html")

    def routes(self) -> list[Route]:
        g = self.guard
        c = self.customgpt
        p = "/api/v1/projects/{project_id}"
        return [
            Route("/api/v1/projects", g(c.list_projects)),
            Route(p, g(c.get_project)),
            Route(f"{p}/settings", g(c.project_settings)),
            Route(f"{p}/sources", g(c.project_sources)),
            Route(f"{p}/pages", g(c.project_pages)),
            Route(f"{p}/conversations", g(c.conversation_list_or_create), methods=["GET", "POST"]),
            Route(f"{p}/conversations/{{session_id}}/messages", g(c.message_list_or_send), methods=["GET", "POST"]),
            Route(f"{p}/conversations/{{session_id}}/messages/{{message_id}}", g(c.message)),
            Route(f"{p}/citations/{{citation_id}}", g(c.citation)),
            Route(f"{p}/chat/completions", g(c.chat_completions), methods=["POST"]),
            Route("/api/v1/chat/completions", g(self.codegpt_completions, codegpt_error), methods=["POST"]),
            Route("/api/v1/agent", g(self.codegpt.agents, codegpt_error)),
            Route("/api/v1/agent/{agent_id}", g(self.codegpt.agent, codegpt_error)),
            Route("/api/v1/document", g(self.codegpt.documents, codegpt_error)),
            Route("/api/v1/document/{document_id}", g(self.codegpt.document, codegpt_error)),
            Route("/api/v1/limits/usage", g(c.limits)),
            Route("/api/v1/user", g(c.user)),
            Route("/v1/chat/completions", g(self.openai_completions, openai_shaped_error), methods=["POST"]),
            Route("/v1/models", g(self.openai.models, openai_shaped_error)),
            Route("/docs/{slug}/{stem}", self.document_page),  # public, like a real site: no key
            *ControlAPI(self.settings.api_key, self.faults, self.stats).routes(),
        ]


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
