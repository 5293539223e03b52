"""Documents a connector search found, kept for the caller who searched so `fetch` costs no upstream query.

ChatGPT's connector contract (`search` then `fetch`) works in ids. A search asks each agent once and
files the answer and each cited source here under a fresh random id, for the principal who searched
and for `ttl_seconds`. `fetch` finds a document only for that principal and only while it is fresh:
another token's fetch of the same id finds nothing, exactly as for an id that never existed.

In-process and bounded (`max_per_principal`, oldest first). Replicas that must share these ids need
the shared store of the scale-out issue; until then a fetch that lands on another replica asks the
caller to search again.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

DEFAULT_TTL_SECONDS: Final = 3600.0
DEFAULT_MAX_PER_PRINCIPAL: Final = 1000


@dataclass(frozen=True, slots=True)
class Document:
    """One fetchable document: an agent's answer, or a source it cited."""

    id: str
    title: str
    text: str
    url: str
    metadata: dict[str, str] = field(default_factory=dict[str, str])


def new_id(kind: str) -> str:
    """An opaque id: `ans_…` for an answer, `src_…` for a source; 96 random bits."""
    return f"{kind}_{secrets.token_urlsafe(12)}"


class DocumentCache:
    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_per_principal: int = DEFAULT_MAX_PER_PRINCIPAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_per_principal
        self._clock = clock
        self._by_principal: dict[str, OrderedDict[str, tuple[float, Document]]] = {}

    def put(self, principal: str, document: Document) -> None:
        documents = self._by_principal.setdefault(principal, OrderedDict())
        documents[document.id] = (self._clock() + self._ttl, document)
        documents.move_to_end(document.id)
        while len(documents) > self._max:
            documents.popitem(last=False)

    def get(self, principal: str, document_id: str) -> Document | None:
        documents = self._by_principal.get(principal)
        found = documents.get(document_id) if documents is not None else None
        if found is None:
            return None
        expires, document = found
        if expires < self._clock():
            assert documents is not None
            del documents[document_id]
            return None
        return document
