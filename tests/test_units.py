"""Unit tests of small pure functions (the end-to-end tests cover how they are used)."""

from __future__ import annotations

import json

import pytest

from mcp_server.agents import AccessScope, slug
from mcp_server.backends.customgpt import _id, _ids  # pyright: ignore[reportPrivateUsage]
from mcp_server.errors import (
    UpstreamAuthError,
    UpstreamNotFoundError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamServerError,
)
from mcp_server.upstream_answers import Answer, status_error


@pytest.mark.parametrize(
    ("raw", "expected"), [(433, "433"), ("433", "433"), ("12061.0", "12061"), (12061.0, "12061"), (None, None)]
)
def test_upstream_ids_are_normalised(raw: object, expected: str | None) -> None:
    assert _id(raw) == expected


def test_id_lists_drop_empties() -> None:
    assert _ids([1, "2.0", None, ""]) == ("1", "2")
    assert _ids("not a list") == ()


@pytest.mark.parametrize(
    ("title", "expected"),
    [("Northwind Support", "northwind-support"), ("  Ünïcode & Co. ", "n-code-co"), ("!!!", "agent")],
)
def test_slug(title: str, expected: str) -> None:
    assert slug(title) == expected


def test_access_scope() -> None:
    everything = AccessScope.of(["*"], ["*"], "all")
    assert everything.allows_tool("support", "ask")
    narrow = AccessScope.of(["support"], ["ask", "billing_list_sources"], "narrow")
    assert narrow.allows_tool("support", "ask")
    assert not narrow.allows_tool("support", "list_sources")
    assert not narrow.allows_tool("billing", "list_sources")  # agent not in scope
    assert not narrow.allows_agent("billing")


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(body).encode(), (headers or {}).get("Retry-After"))


def test_status_errors_read_the_customgpt_envelope() -> None:
    envelope = {"status": "error", "url": "https://x", "data": {"code": 404, "message": "Agent with id 9 not found"}}
    err = status_error(_response(404, envelope))
    assert isinstance(err, UpstreamNotFoundError)
    assert "HTTP 404: Agent with id 9 not found" in str(err)

    limited = status_error(_response(429, {"message": "Too Many Attempts."}, {"Retry-After": "30"}))
    assert isinstance(limited, UpstreamRateLimitError)
    assert limited.retry_after == 30
    assert "retry after 30 seconds" in str(limited)

    assert isinstance(status_error(_response(401, {})), UpstreamAuthError)
    assert isinstance(status_error(_response(503, {"error": {"message": "overloaded"}})), UpstreamServerError)
    assert isinstance(status_error(_response(400, {})), UpstreamProtocolError)
