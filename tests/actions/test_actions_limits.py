"""Unit tests of the size helpers: a cut keeps the encoded response within the limit whatever the
text's escaping costs, keeps an exact prefix, and `shrink` marks what it shortened."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_server.actions.limits import CUT_MARKER, MAX_RESPONSE_CHARS, cut_text, encoded_length, shrink


@pytest.mark.parametrize("unit", ["plain words ", '"quoted"\n', "\x01\x02", "déjà vu ", "😀"])
def test_cut_text_fits_and_keeps_an_exact_prefix(unit: str) -> None:
    text = unit * (MAX_RESPONSE_CHARS // len(unit) + 10)
    body: dict[str, Any] = {"status": "complete", "answer": text, "citations": [{"id": "1"}]}
    kept = cut_text(body, "answer", "[more]")
    assert kept is not None and kept > 0
    assert encoded_length(body) <= MAX_RESPONSE_CHARS
    assert body["answer"] == text[:kept] + "[more]"


def test_cut_text_leaves_a_body_that_fits_alone() -> None:
    body: dict[str, Any] = {"answer": "short"}
    assert cut_text(body, "answer", "[more]") is None and body == {"answer": "short"}


def test_shrink_halves_the_longest_strings_until_the_body_fits() -> None:
    body: dict[str, Any] = {"citations": [{"description": "d" * 80_000}, {"description": "e" * 60_000}], "n": 1}
    out = shrink(body)
    assert encoded_length(out) <= MAX_RESPONSE_CHARS
    assert all(c["description"].endswith(CUT_MARKER) for c in out["citations"])
    assert out["n"] == 1
