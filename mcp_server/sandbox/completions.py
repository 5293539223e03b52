"""The OpenAI-shaped answer of `POST /projects/{id}/chat/completions` (and CodeGPT's chat API):
one JSON completion, or `chat.completion.chunk` frames ending with `data: [DONE]`.

CustomGPT's layer puts a top-level `citations` list of citation ids where its clients look for them;
a generic OpenAI-compatible API (`citations=None`) has none. CustomGPT's layer refuses, with 501,
the OpenAI parameters it does not support (`unsupported_parameter`) and ignores `model` and sampling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final, cast

from starlette.responses import JSONResponse, Response

from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.search import pieces
from mcp_server.sandbox.streams import Stats, TrackedStream, answer_pieces, sse_event

MODEL: Final = "gpt-4-o"  # the project's model; the request's `model` is ignored, as upstream does
UNSUPPORTED_BY_CUSTOMGPT: Final = (
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "parallel_tool_calls",
    "response_format",
    "audio",
    "modalities",
    "web_search_options",
)


def unsupported_parameter(body: dict[str, Any]) -> str | None:
    """The first parameter CustomGPT's compatibility layer answers with 501, if the body sends one."""
    return next((name for name in UNSUPPORTED_BY_CUSTOMGPT if body.get(name) is not None), None)


def not_supported_message(parameter: str) -> str:
    return f"{parameter} is not yet supported. Please remove them from your request and try again."


def user_question(body: dict[str, Any]) -> str:
    """The last user message's text ("" when there is none)."""
    messages: Any = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for item in reversed(cast("list[Any]", messages)):
        if not isinstance(item, dict):
            continue
        message = cast("dict[str, Any]", item)
        if message.get("role") != "user":
            continue
        content: Any = message.get("content")
        if isinstance(content, list):  # OpenAI content parts: keep the text parts
            parts = [cast("dict[str, Any]", p) for p in cast("list[Any]", content) if isinstance(p, dict)]
            return " ".join(str(p.get("text", "")) for p in parts)
        return content if isinstance(content, str) else ""
    return ""


def completion_json(
    completion_id: str, created: int, answer: str, citations: list[int] | None, model: str = MODEL
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "usage": {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }
    return body if citations is None else {**body, "citations": citations}


def completion_response(
    completion_id: str,
    created: int,
    answer: str,
    citations: list[int] | None,
    *,
    stream: bool,
    fault: Fault | None,
    drip: float,
    stats: Stats,
    model: str = MODEL,
) -> Response:
    if not stream:
        return JSONResponse(completion_json(completion_id, created, answer, citations, model))
    outcome: dict[str, bool] = {}

    def chunk(delta: dict[str, Any], finish: str | None) -> str:
        frame: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return sse_event(frame if citations is None else {**frame, "citations": citations})

    async def events() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""}, None)
        async for part in answer_pieces(pieces(answer), fault, drip, outcome):
            yield chunk({"content": part}, None)
        if outcome.get("truncated"):
            return
        yield chunk({}, "stop")
        yield sse_event("[DONE]")
        outcome["finished"] = True

    return TrackedStream(events(), stats, outcome)
