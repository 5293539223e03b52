"""ChatGPT's custom GPTs ("gizmos") as OpenAI-compatible models.

Proxies that expose custom GPTs over `/v1/chat/completions` name each by the model
`gpt-4-gizmo-<gizmo id>`. Users know a GPT by its link, `https://chatgpt.com/g/g-bo0FiWLY7-researchgpt`
(older: `https://chat.openai.com/g/...`), so an `openai` agent may name it by that link or by the bare
`g-...` id, and the bridge derives the model name (and a title from the link's name part).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

GIZMO_ID: Final = re.compile(r"g-[A-Za-z0-9]{1,64}")
GPT_HOSTS: Final = frozenset({"chatgpt.com", "www.chatgpt.com", "chat.openai.com"})
MODEL_PREFIX: Final = "gpt-4-gizmo-"
GIZMO_MODEL: Final = re.compile(rf"gpt-4o?-gizmo-({GIZMO_ID.pattern})")
EXAMPLE: Final = "https://chatgpt.com/g/g-bo0FiWLY7-researchgpt, or the bare id g-bo0FiWLY7"


@dataclass(frozen=True, slots=True)
class GizmoRef:
    gizmo_id: str  # g-bo0FiWLY7
    name: str | None  # "Researchgpt", from the link's name part when it has one

    @property
    def model(self) -> str:
        return MODEL_PREFIX + self.gizmo_id


def _title(slug: str) -> str | None:
    words = [w for w in slug.split("-") if w]
    return " ".join(w[:1].upper() + w[1:] for w in words) or None


def parse_gpt(value: str) -> GizmoRef:
    """The GPT a link or id names; raises ValueError saying what was wrong and what to write instead."""
    text = value.strip()
    if GIZMO_ID.fullmatch(text):
        return GizmoRef(text, None)
    model = GIZMO_MODEL.fullmatch(text)
    if model is not None:  # the model name itself: forgiving, it says the same thing
        return GizmoRef(model.group(1), None)
    if text.startswith(("g-", "G-")) and "/" not in text:
        raise ValueError(f"'{text[:80]}' is not a GPT id: after 'g-' come letters and digits only; use {EXAMPLE}")
    if "/" not in text:
        raise ValueError(f"'{text[:80]}' is neither a GPT link nor a g-... id; use {EXAMPLE} (or `model` for a model)")
    parts = urlsplit(text if "://" in text else f"https://{text}")
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in GPT_HOSTS:
        raise ValueError(
            f"'{text[:80]}' is not a ChatGPT GPT link (the host must be chatgpt.com or chat.openai.com); use {EXAMPLE}"
        )
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[0] != "g":
        raise ValueError(
            f"'{text[:80]}' is a ChatGPT link but not to a GPT (a GPT's link has /g/g-... in it: open the GPT "
            f"and copy the address bar); use {EXAMPLE}"
        )
    gizmo, _, slug = segments[1].partition("-")[2].partition("-")
    gizmo_id = f"g-{gizmo}"
    if not segments[1].startswith("g-") or GIZMO_ID.fullmatch(gizmo_id) is None:
        raise ValueError(
            f"'{text[:80]}': '{segments[1][:80]}' is not a GPT id (g- then letters and digits); use {EXAMPLE}"
        )
    return GizmoRef(gizmo_id, _title(slug))
