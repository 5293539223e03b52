"""Shared state behind small async interfaces: conversation memory for backends that keep none
upstream, and the built-in OAuth authorization server's clients, codes, refresh tokens and key. The
in-process stores are the default; a shared store (Valkey/Redis) for several workers or replicas
implements the same protocols (`ConversationStore`, `OAuthGrantStore`)."""

from mcp_server.store.conversations import ConversationStore, StoredConversation, Turn
from mcp_server.store.in_process import InProcessConversationStore
from mcp_server.store.oauth_grants import GrantKind, OAuthGrantStore
from mcp_server.store.oauth_in_process import InProcessOAuthGrantStore

__all__ = [
    "ConversationStore",
    "GrantKind",
    "InProcessConversationStore",
    "InProcessOAuthGrantStore",
    "OAuthGrantStore",
    "StoredConversation",
    "Turn",
]
