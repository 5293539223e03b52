"""Shared state behind small async interfaces: conversation memory for backends that keep none
upstream, small caches, the rate counters of the upstream protection, and the built-in OAuth
authorization server's clients, codes, refresh tokens and key. In this process by default
(`InProcessConversationStore`, `InProcessCache`, `InProcessRateCounter`, `InProcessOAuthGrantStore`);
all four in Valkey/Redis when `[store] url` is set (`SharedConversationStore`, `SharedCache`,
`SharedRateCounter`, `SharedOAuthGrantStore`), so several workers or replicas see the same state.
`open_state` chooses for the agents' state; the HTTP app opens the counters and grants, over the same
`SharedStore` (one client per process)."""

from mcp_server.store.caches import InProcessCache, JsonCache, SharedCache
from mcp_server.store.conversations import ConversationStore, StoredConversation, Turn
from mcp_server.store.counters import RateCounter
from mcp_server.store.in_process import InProcessConversationStore
from mcp_server.store.in_process_counters import InProcessRateCounter
from mcp_server.store.oauth_grants import GrantKind, OAuthGrantStore
from mcp_server.store.oauth_in_process import InProcessOAuthGrantStore
from mcp_server.store.shared import SharedStore
from mcp_server.store.shared_conversations import SharedConversationStore
from mcp_server.store.shared_counters import SharedRateCounter
from mcp_server.store.shared_oauth import SharedOAuthGrantStore
from mcp_server.store.state import State, in_process, open_state

__all__ = [
    "ConversationStore",
    "GrantKind",
    "InProcessCache",
    "InProcessConversationStore",
    "InProcessOAuthGrantStore",
    "InProcessRateCounter",
    "JsonCache",
    "OAuthGrantStore",
    "RateCounter",
    "SharedCache",
    "SharedConversationStore",
    "SharedOAuthGrantStore",
    "SharedRateCounter",
    "SharedStore",
    "State",
    "StoredConversation",
    "Turn",
    "in_process",
    "open_state",
]
