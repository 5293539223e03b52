"""Shared state behind small async interfaces: conversation memory for backends that keep none
upstream, and small caches. In this process by default (`InProcessConversationStore`,
`InProcessCache`); in Valkey/Redis when `[store] url` is set (`SharedConversationStore`,
`SharedCache`), so several workers or replicas see the same state. `open_state` chooses."""

from mcp_server.store.caches import InProcessCache, JsonCache, SharedCache
from mcp_server.store.conversations import ConversationStore, StoredConversation, Turn
from mcp_server.store.in_process import InProcessConversationStore
from mcp_server.store.shared import SharedStore
from mcp_server.store.shared_conversations import SharedConversationStore
from mcp_server.store.state import State, in_process, open_state

__all__ = [
    "ConversationStore",
    "InProcessCache",
    "InProcessConversationStore",
    "JsonCache",
    "SharedCache",
    "SharedConversationStore",
    "SharedStore",
    "State",
    "StoredConversation",
    "Turn",
    "in_process",
    "open_state",
]
