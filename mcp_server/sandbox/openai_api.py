"""The generic OpenAI-compatible API the sandbox also serves: `POST /v1/chat/completions` and
`GET /v1/models`.

It stands in for the proxies that expose ChatGPT's custom GPTs under the model name
`gpt-4-gizmo-<gizmo id>`: each gizmo id (`--gizmo g-XXXX=DIR`; `g-demo` is the demo corpus) names
the corpus that answers. Unlike CustomGPT's per-project layer, everything here, errors included,
is in OpenAI's shapes: `{"error": {"message", "type", "param", "code"}}`, and no `citations`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_server.sandbox.completions import completion_response, user_question
from mcp_server.sandbox.corpus import Project
from mcp_server.sandbox.faults import RETRY_AFTER_SECONDS
from mcp_server.sandbox.search import Retrieved
from mcp_server.sandbox.streams import Stats
from mcp_server.sandbox.wire import Refused

DEMO_GIZMO: Final = "g-demo"
GIZMO_ID: Final = re.compile(r"g-[A-Za-z0-9]{1,64}")
GIZMO_MODEL: Final = re.compile(rf"gpt-4o?-gizmo-(?P<gizmo>{GIZMO_ID.pattern})")
CREATED: Final = 1_700_000_000

_TYPES: Final = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_MESSAGES: Final = {
    401: "Incorrect API key provided. You can find your API key in your account settings.",
    429: f"Rate limit reached for requests. Please try again in {RETRY_AFTER_SECONDS}s.",
}


def openai_error(
    request: Request,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    """OpenAI's error body for `status` (its own wording for 401 and 429, as the sandbox's faults use)."""
    kind, default_code = _TYPES.get(status, ("server_error", None))
    body = {
        "error": {
            "message": _MESSAGES.get(status, message),
            "type": kind,
            "param": param,
            "code": code or default_code,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def refusal_response(request: Request, refused: Refused) -> JSONResponse:
    return openai_error(request, refused.status, str(refused), code=refused.code, param=refused.param)


def parse_gizmo(spec: str) -> tuple[str, str]:
    """`g-XXXX=DIR` as (gizmo id, folder); raises ValueError naming the expected form."""
    gizmo, sep, folder = spec.partition("=")
    if not sep or not folder or GIZMO_ID.fullmatch(gizmo) is None:
        raise ValueError(f"--gizmo {spec!r}: write g-<letters and digits>=FOLDER, e.g. --gizmo g-bo0FiWLY7=./docs")
    return gizmo, folder


Answerer = Callable[[Project, str], Retrieved]


class OpenAIAPI:
    """`gizmos` maps each gizmo id to the project that answers for it; `answer` retrieves its passages."""

    def __init__(
        self, gizmos: Mapping[str, Project], answer: Answerer, stats: Stats, drip: Callable[[], float]
    ) -> None:
        self._gizmos = dict(gizmos)
        self._answer = answer
        self._stats = stats
        self._drip = drip

    def model_names(self) -> list[str]:
        return [f"gpt-4-gizmo-{gizmo}" for gizmo in self._gizmos]

    async def models(self, request: Request) -> Response:
        data = [
            {"id": name, "object": "model", "created": CREATED, "owned_by": "sandbox"} for name in self.model_names()
        ]
        return JSONResponse({"object": "list", "data": data})

    def _project(self, model: Any) -> Project:
        match = GIZMO_MODEL.fullmatch(model) if isinstance(model, str) else None
        project = self._gizmos.get(match.group("gizmo")) if match else None
        if project is None:
            shown = model if isinstance(model, str) else ""
            raise Refused(
                f"The model `{shown[:100]}` does not exist or you do not have access to it.",
                404,
                code="model_not_found",
                param="model",
            )
        return project

    async def chat_completions(self, request: Request, body: dict[str, Any]) -> Response:
        if not body.get("model"):
            raise Refused("you must provide a model parameter", 400, param="model")
        project = self._project(body.get("model"))
        question = user_question(body).strip()
        if not question:
            raise Refused("messages must contain a user message with text", 400, param="messages")
        retrieved = self._answer(project, question)
        return completion_response(
            f"chatcmpl-{uuid.uuid4().hex[:24]}",
            int(time.time()),
            retrieved.text,
            None,
            stream=bool(body.get("stream")),
            fault=request.state.fault,
            drip=self._drip(),
            stats=self._stats,
            model=str(body["model"]),
        )
