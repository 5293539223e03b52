"""Folders of Markdown/text documents as sandbox projects: each document is a page with a stable URL
and a citation id, split into passages for retrieval."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Final

DEMO_PROJECT_NAME: Final = "Northwind Support"
DOCS_HOST: Final = "https://docs.sandbox.local"
CREATED_AT: Final = "2025-05-29T15:59:15Z"
_HEADING = re.compile(r"^#+\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Document:
    id: int  # page id and citation id alike
    project_id: int
    stem: str
    title: str
    description: str
    url: str
    passages: tuple[str, ...]


@dataclass(slots=True)
class Project:
    id: int
    name: str
    slug: str
    documents: list[Document] = field(default_factory=list[Document])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "project"


def _passage(block: str) -> str:
    """A paragraph on one line; a Markdown table keeps its rows."""
    lines = [line.strip() for line in block.strip().splitlines()]
    if lines and all(line.startswith("|") for line in lines):
        return "\n".join(lines)
    return " ".join(block.split())


def _passages(text: str) -> tuple[str, ...]:
    blocks = [_passage(block) for block in re.split(r"\n\s*\n", text)]
    return tuple(b for b in blocks if b and not b.startswith("#"))


def _load(project_id: int, name: str, docs_url: str, files: list[tuple[str, str]]) -> Project:
    project = Project(id=project_id, name=name, slug=_slug(name))
    for index, (stem, text) in enumerate(sorted(files), start=1):
        heading = _HEADING.search(text)
        passages = _passages(text)
        description = passages[0] if passages else ""
        if len(description) > 200:
            description = description[:197].rsplit(" ", 1)[0] + "..."
        project.documents.append(
            Document(
                id=project_id * 1000 + index,
                project_id=project_id,
                stem=stem,
                title=heading.group(1).strip() if heading else stem.replace("-", " ").title(),
                description=description,
                url=f"{docs_url}/{project.slug}/{stem}",
                passages=passages,
            )
        )
    return project


def load_demo(docs_url: str = DOCS_HOST) -> Project:
    folder = resources.files("mcp_server.sandbox") / "demo_corpus"
    files = [
        (f.name.rsplit(".", 1)[0], f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".md")
    ]
    return _load(1, DEMO_PROJECT_NAME, docs_url, files)


def load_folder(project_id: int, folder: Path, docs_url: str = DOCS_HOST) -> Project:
    if not folder.is_dir():
        raise ValueError(f"--corpus {folder}: not a folder")
    files = [
        (p.stem, p.read_text(encoding="utf-8", errors="replace"))
        for p in folder.iterdir()
        if p.suffix.lower() in (".md", ".markdown", ".txt") and p.is_file()
    ]
    if not files:
        raise ValueError(f"--corpus {folder}: no .md or .txt documents in it")
    return _load(project_id, folder.name.replace("-", " ").replace("_", " ").title(), docs_url, files)
