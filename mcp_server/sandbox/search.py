"""Extractive answers: BM25 over a project's passages; the best passages become the answer and the
documents they came from its citations.

Words are stemmed (Snowball's English stemmer) before ranking, so a question finds a passage that uses
another form of its words (install / installation, configure / configuration)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import snowballstemmer  # pyright: ignore[reportMissingTypeStubs]
from rank_bm25 import BM25Plus  # pyright: ignore[reportMissingTypeStubs]

from mcp_server.sandbox.corpus import Document, Project

NO_ANSWER: Final = (
    "I could not find this in the knowledge base. Try rephrasing the question or ask about a topic it covers."
)
TOP_PASSAGES: Final = 2
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS: Final = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "my",
        "our",
        "you",
        "your",
        "me",
        "we",
        "there",
        "their",
        "be",
        "been",
        "was",
        "were",
        "has",
        "have",
        "had",
    ]
)


_STEMMER: Final[Any] = snowballstemmer.stemmer("english")


def tokens(text: str) -> list[str]:
    """The text's words, lower-cased, stop words dropped, each reduced to its stem."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
    return [str(stem) for stem in _STEMMER.stemWords(words)]


@dataclass(frozen=True, slots=True)
class Retrieved:
    text: str
    documents: tuple[Document, ...]


class ProjectIndex:
    def __init__(self, project: Project) -> None:
        self._entries = [(doc, passage) for doc in project.documents for passage in doc.passages]
        corpus = [tokens(passage) or ["_"] for _, passage in self._entries]
        self._words = [frozenset(words) for words in corpus]
        # BM25+ keeps scores positive on tiny corpora, where plain BM25's idf falls to zero or below.
        self._bm25 = BM25Plus(corpus) if corpus else None

    def retrieve(self, question: str, limit: int = TOP_PASSAGES) -> Retrieved:
        query = tokens(question)
        if self._bm25 is None or not query:
            return Retrieved(NO_ANSWER, ())
        scores: list[float] = [float(s) for s in self._bm25.get_scores(query)]  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType,reportUnknownArgumentType]
        ranked = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
        best = [i for i in ranked if self._words[i].intersection(query)][:limit]
        if not best:
            return Retrieved(NO_ANSWER, ())
        documents: dict[int, Document] = {}
        for i in best:
            documents.setdefault(self._entries[i][0].id, self._entries[i][0])
        return Retrieved("\n\n".join(self._entries[i][1] for i in best), tuple(documents.values()))


def pieces(text: str, words_per_piece: int = 3) -> list[str]:
    """Split text into small pieces that concatenate back to exactly `text`."""
    words = re.findall(r"\S+\s*", text)
    head = text[: len(text) - len(text.lstrip())]
    out = [head + "".join(words[:words_per_piece])] if words else [text]
    out += ["".join(words[i : i + words_per_piece]) for i in range(words_per_piece, len(words), words_per_piece)]
    return [p for p in out if p]
