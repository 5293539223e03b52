"""A replica's node id (`server.node_id`): configured, or, for a replica (a shared store, `[store] url`)
with none configured, made from its host name, so that a balancer can route SSE message paths
(`/messages/<node_id>/`) to it by the same name it resolves the replica by: a compose service with
`hostname: bridge-1` is `bridge-1`, a StatefulSet pod is its pod name (`agent-bridge-0`).

The id is the host name's first label, lower-cased, with every run of characters outside `[a-z0-9-]`
turned into one `-` and cut to the 63 characters the id allows. A host name that leaves nothing
(never on Docker or Kubernetes) gives `node-<hash of the host name>`: still the same on every start and
in every worker. A single process without a store has no node id, as before."""

from __future__ import annotations

import hashlib
import re
import socket
from typing import Final, Literal

from mcp_server.config import BridgeConfig

_OUTSIDE: Final = re.compile(r"[^a-z0-9-]+")
_MAX_LENGTH: Final = 63

Source = Literal["configured", "generated", "none"]


def from_host_name(host_name: str) -> str:
    """The node id for `host_name` (see the module's docstring)."""
    label = host_name.strip().split(".", 1)[0].lower()
    node = _OUTSIDE.sub("-", label).strip("-")[:_MAX_LENGTH].rstrip("-")
    if node:
        return node
    return "node-" + hashlib.sha256(host_name.encode()).hexdigest()[:12]


def with_node_id(config: BridgeConfig, host_name: str | None = None) -> tuple[BridgeConfig, Source]:
    """`config` with a node id when it is a replica (it has a store) and names none; where the id came from."""
    if config.server.node_id is not None:
        return config, "configured"
    if config.store.url is None:
        return config, "none"
    node = from_host_name(socket.gethostname() if host_name is None else host_name)
    server = config.server.model_copy(update={"node_id": node})
    return config.model_copy(update={"server": server}), "generated"
