"""Conversation ids that belong to the caller who started the conversation.

A client never sees an upstream conversation id bare. The bridge hands out
`<upstream id>_<tag>`, where the tag is an HMAC of (principal, agent, upstream id) under a key the
bridge derives from its configuration. Only the principal that started a conversation can present
an id whose tag checks out; anyone else (another token on the same agent, a guessed or stolen
upstream id) is answered exactly as for an id that does not exist.

Because the tag is computed, not stored, every worker and every replica with the same configuration
agrees on who owns which conversation, and conversations survive a restart. Set `server.secret` to
keep them valid across a change of upstream keys.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Final

from mcp_server.ids import is_conversation_id

TAG_HEX_DIGITS: Final = 24  # 96 bits
MAX_UPSTREAM_ID: Final = 128 - 1 - TAG_HEX_DIGITS


def derive_key(values: Iterable[str]) -> bytes:
    """The sealing key from the operator's secrets (a configured secret, else the upstream keys)."""
    digest = hashlib.sha256(b"agent-bridge conversation ownership v1")
    for secret in sorted(values):
        digest.update(hashlib.sha256(secret.encode()).digest())
    return digest.digest()


class ConversationSeal:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _tag(self, principal: str, agent: str, upstream_id: str) -> str:
        message = "\0".join((principal, agent, upstream_id)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:TAG_HEX_DIGITS]

    def seal(self, principal: str, agent: str, upstream_id: str) -> str:
        """The conversation id to give `principal` for `upstream_id` on `agent`."""
        if len(upstream_id) > MAX_UPSTREAM_ID or not is_conversation_id(upstream_id):
            raise ValueError("upstream conversation id out of shape")  # upstream ids are validated before this
        return f"{upstream_id}_{self._tag(principal, agent, upstream_id)}"

    def open(self, principal: str, agent: str, conversation_id: str) -> str | None:
        """The upstream id behind `conversation_id` if `principal` started it on `agent`, else None."""
        upstream_id, _, tag = conversation_id.rpartition("_")
        if not upstream_id or len(tag) != TAG_HEX_DIGITS:
            return None
        if not hmac.compare_digest(tag, self._tag(principal, agent, upstream_id)):
            return None
        return upstream_id
