"""Shared state behind small async interfaces: conversation memory for backends that keep none
upstream, and the rate counters of the upstream protection. The in-process implementations are
the default; a shared store (Valkey/Redis) for several workers or replicas implements the same
`ConversationStore` and `RateCounter` protocols."""

from mcp_server.store.conversations import ConversationStore, StoredConversation, Turn
from mcp_server.store.counters import RateCounter
from mcp_server.store.in_process import InProcessConversationStore
from mcp_server.store.in_process_counters import InProcessRateCounter

__all__ = [
    "ConversationStore",
    "InProcessConversationStore",
    "InProcessRateCounter",
    "RateCounter",
    "StoredConversation",
    "Turn",
]
