"""Shared state behind small async interfaces: today conversation memory for backends that keep
none upstream. `InProcessConversationStore` is the default; a shared store (Valkey/Redis) for
several workers or replicas implements the same `ConversationStore` protocol."""

from mcp_server.store.conversations import ConversationStore, StoredConversation, Turn
from mcp_server.store.in_process import InProcessConversationStore

__all__ = ["ConversationStore", "InProcessConversationStore", "StoredConversation", "Turn"]
