"""CustomGPT wire shapes: request bodies, envelopes, Laravel pagination, and the objects the API returns."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_server.sandbox.corpus import CREATED_AT, Document, Project

CREDITS_MESSAGE = (
    "You have exhausted your current query credits. Please contact customer service "
    "(https://customgpt.freshdesk.com/support/home) for further assistance."
)
STATUS_MESSAGES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class Refused(Exception):
    """A request the sandbox answers with an error body (each API writes it in its own shape)."""

    def __init__(self, message: str, status: int = 404, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code  # OpenAI's `error.code`, e.g. model_not_found
        self.param = param


async def json_body(request: Request, strict: bool = True) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        if not strict:
            return {}
        raise Refused("Request body must be JSON", 400) from None
    return body if isinstance(body, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def wants_stream(request: Request, body: dict[str, Any]) -> bool:
    return request.query_params.get("stream", "").lower() in ("true", "1") or body.get("stream") in (True, 1, "1")


def compact(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop null fields: the real API sends some as null, but the spec declares them non-nullable."""
    return {k: v for k, v in obj.items() if v is not None}


def success(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data}, status_code=status)


def error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"status": "error", "url": str(request.url), "data": {"code": status, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def paginate(request: Request, items: list[Any], page: int, per_page: int) -> dict[str, Any]:
    base = str(request.url.remove_query_params(["page", "limit"]))
    last = max(1, math.ceil(len(items) / per_page))
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]

    def url(n: int) -> str:
        return f"{base}?page={n}"

    return compact(
        {
            "current_page": page,
            "data": chunk,
            "first_page_url": url(1),
            "from": start + 1 if chunk else None,
            "last_page": last,
            "last_page_url": url(last),
            "next_page_url": url(page + 1) if page < last else None,
            "path": base,
            "per_page": per_page,
            "prev_page_url": url(page - 1) if page > 1 else None,
            "to": start + len(chunk) if chunk else None,
            "total": len(items),
        }
    )


def project_json(project: Project) -> dict[str, Any]:
    return compact(
        {
            "id": project.id,
            "project_name": project.name,
            "sitemap_path": None,
            "is_chat_active": True,
            "user_id": 1,
            "team_id": 1,
            "created_at": CREATED_AT,
            "updated_at": CREATED_AT,
            "deleted_at": None,
            "type": "SITEMAP",
            "is_shared": False,
            "shareable_slug": hashlib.md5(project.slug.encode()).hexdigest(),  # noqa: S324 - an identifier, not security
            "shareable_link": None,
            "embed_code": None,
            "live_chat_code": None,
            "are_licenses_allowed": False,
            "subdomain_slug": None,
        }
    )


def page_json(doc: Document) -> dict[str, Any]:
    return compact(
        {
            "id": doc.id,
            "page_url": doc.url,
            "page_url_hash": hashlib.md5(doc.url.encode()).hexdigest(),  # noqa: S324 - the API's own hash field
            "project_id": doc.project_id,
            "s3_path": None,
            "crawl_status": "ok",
            "index_status": "ok",
            "is_file": True,
            "is_refreshable": False,
            "is_file_kept": True,
            "filename": f"{doc.stem}.md",
            "filesize": sum(len(p) for p in doc.passages),
            "created_at": CREATED_AT,
            "updated_at": CREATED_AT,
            "deleted_at": None,
        }
    )


def citation_json(doc: Document) -> dict[str, Any]:
    return {"id": doc.id, "url": doc.url, "title": doc.title, "description": doc.description, "image": None}


def settings_json(project: Project) -> dict[str, Any]:
    return compact(
        {
            "chatbot_avatar": f"https://docs.sandbox.local/{project.slug}/avatar.png",
            # chatbot_background_type is omitted: the spec's enum for it is [["image", "color"]] (a list
            # nested in the list), which no real value satisfies.
            "chatbot_background": None,
            "chatbot_background_color": "#FFFFFF",
            "default_prompt": f"Ask {project.name} anything",
            "example_questions": [],
            "response_source": "own_content",
            "chatbot_msg_lang": "en",
            "chatbot_color": "#0B5FFF",
            "chatbot_toolbar_color": "#0B5FFF",
            "persona_instructions": "You answer only from the documents in this knowledge base.",
            "citations_answer_source_label_msg": "Where did this answer come from?",
            "citations_sources_label_msg": "Sources",
            "hang_in_there_msg": "Hang in there! I'm thinking...",
            "chatbot_siesta_msg": "Oops! The agent is taking a siesta.",
            "is_loading_indicator_enabled": True,
            "enable_citations": 3,
            "enable_feedbacks": True,
            "citations_view_type": "user",
            "no_answer_message": "I could not find this in the knowledge base.",
            "ending_message": "Please email us for further support",
            "remove_branding": False,
            "chatbot_model": "gpt-4-o",
            "chatbot_title": project.name[:30],
            "markdown_enabled": True,
        }
    )


@dataclass(slots=True)
class Conversation:
    id: int
    project_id: int
    session_id: str
    name: str
    created_at: str = CREATED_AT
    messages: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    def json(self) -> dict[str, Any]:
        return compact(
            {
                "id": self.id,
                "name": self.name,
                # Strings, as the spec says (the real API has sent integers here).
                "project_id": str(self.project_id),
                "created_by": "1",
                "session_id": self.session_id,
                "created_at": self.created_at,
                "updated_at": self.messages[-1]["created_at"] if self.messages else self.created_at,
                "deleted_at": None,
            }
        )


def message_json(
    message_id: int, prompt: str, answer: str, citations: list[int], created_at: str, request_source: str = "api"
) -> dict[str, Any]:
    return compact(
        {
            "id": message_id,
            "user_id": 1,
            "user_query": prompt,
            "openai_response": answer,
            "created_at": created_at,
            "updated_at": created_at,
            "conversation_id": None,
            "citations": citations,
            "metadata": {
                "user_ip": "127.0.0.1",
                "user_agent": "sandbox",
                "external_id": "",
                "request_source": request_source,
            },
            "response_feedback": None,
        }
    )
