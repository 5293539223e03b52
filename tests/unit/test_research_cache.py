"""The connector's document cache: per caller, with an age limit and a size bound."""

from __future__ import annotations

from mcp_server.research_cache import Document, DocumentCache, new_id


def _doc(kind: str = "ans") -> Document:
    return Document(id=new_id(kind), title="t", text="x", url="")


def test_a_document_is_found_only_by_the_caller_who_filed_it_and_only_while_fresh() -> None:
    now = [0.0]
    cache = DocumentCache(ttl_seconds=60, clock=lambda: now[0])
    doc = _doc()
    cache.put("token:alice", doc)
    assert cache.get("token:alice", doc.id) == doc
    assert cache.get("token:bob", doc.id) is None
    now[0] = 61
    assert cache.get("token:alice", doc.id) is None


def test_each_caller_keeps_at_most_its_bound_oldest_first() -> None:
    cache = DocumentCache(max_per_principal=2)
    docs = [_doc() for _ in range(3)]
    for doc in docs:
        cache.put("p", doc)
    assert cache.get("p", docs[0].id) is None
    assert cache.get("p", docs[2].id) == docs[2]


def test_ids_are_opaque_and_distinct() -> None:
    ids = {new_id("src") for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("src_") and len(i) == 20 for i in ids)
