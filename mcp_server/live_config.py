"""Reloading the configuration while serving: new agents, backends and tokens without dropping anyone.

`agent-bridge serve` reloads on SIGHUP (`agent-bridge reload` sends it). The new file is read and
validated first; if it is not usable the reason is logged and the running configuration keeps
serving, untouched. Otherwise a new `AgentRegistry` (with its own upstream pools) is opened and
swapped in: requests from then on see the new agents, while calls already running keep the agents
(and pools) they started with. The old registry is closed once no call that started on it can still
run (the call deadline), or at shutdown.

What a reload cannot change is the `[server]` table (address, port, transports, limits, the
conversation seal): a changed one is logged and takes effect at the next restart. Sessions are
never dropped: they are not tied to a registry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup, TaskStatus

from mcp_server.agents import EVERYTHING, AgentRegistry
from mcp_server.config import BridgeConfig
from mcp_server.errors import ConfigError
from mcp_server.store import SharedStore

logger = logging.getLogger(__name__)

OnSwap = Callable[[BridgeConfig, AgentRegistry], Awaitable[None]]


class LiveAgents:
    def __init__(self, config: BridgeConfig, retire_after_seconds: float, shared: SharedStore | None = None) -> None:
        self.config = config
        self._shared = shared  # the app's store connection: every registry's state goes over it (same URL)
        self.registry: AgentRegistry | None = None
        self._retire_after = retire_after_seconds
        self._group: TaskGroup | None = None
        self._stopping: anyio.Event | None = None  # made in `run`, on the event loop
        self._lock: anyio.Lock | None = None
        self._releases: dict[AgentRegistry, anyio.Event] = {}  # set: close that registry

    async def run(self, on_ready: Callable[[], None]) -> None:
        """Hold the registries until `stop`: the first from the starting configuration, then each reload's."""
        self._stopping, self._lock = anyio.Event(), anyio.Lock()
        async with anyio.create_task_group() as group:
            self._group = group
            self.registry = await group.start(self._hold, self.config)
            on_ready()
            await self._stopping.wait()
            self.registry = None
        self._group = None

    def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def reload(self, load: Callable[[], BridgeConfig], on_swap: OnSwap) -> bool:
        """Load the configuration again and serve it; False (logged, nothing changed) when it cannot be used."""
        if self._lock is None:
            logger.warning("reload ignored: the bridge is starting")
            return False
        async with self._lock:  # two quick SIGHUPs reload one after the other
            if self._group is None or self.registry is None:
                logger.warning("reload ignored: the bridge is starting or stopping")
                return False
            try:
                new = load()
            except ConfigError as exc:
                logger.error("reload refused, still serving the previous configuration: %s", exc)
                return False
            if new.server != self.config.server:
                logger.warning(
                    "reload: [server] settings changed; they take effect at the next restart "
                    "(agents, backends and tokens reload now)"
                )
                new = new.model_copy(update={"server": self.config.server})
            try:
                registry: AgentRegistry = await self._group.start(self._hold, new)
            except Exception as exc:  # e.g. a backend client that cannot be built: keep serving the old
                logger.error("reload refused, still serving the previous configuration: %s", exc)
                return False
            before = {a.name for a in self.registry.visible(EVERYTHING)}
            after = {a.name for a in registry.visible(EVERYTHING)}
            retiring, self.registry, self.config = self.registry, registry, new
            await on_swap(new, registry)
            self._group.start_soon(self._retire, retiring)
            logger.warning(
                "reloaded: %d agent(s); added: %s; removed: %s",
                len(after),
                ", ".join(sorted(after - before)) or "none",
                ", ".join(sorted(before - after)) or "none",
            )
            return True

    async def _hold(self, config: BridgeConfig, *, task_status: TaskStatus[AgentRegistry]) -> None:
        async with AgentRegistry.open(config, self._shared) as registry:
            registry_done = anyio.Event()
            self._releases[registry] = registry_done
            task_status.started(registry)
            assert self._stopping is not None  # `run` made it before starting this
            await _first(registry_done.wait, self._stopping.wait)
            self._releases.pop(registry, None)

    async def _retire(self, registry: AgentRegistry) -> None:
        """Close `registry` once every call that may have started on it has hit its deadline (or at stop)."""
        assert self._stopping is not None
        with anyio.move_on_after(self._retire_after):
            await self._stopping.wait()
        done = self._releases.get(registry)
        if done is not None:
            done.set()


async def _first(*waits: Callable[[], Awaitable[object]]) -> None:
    """Return when the first of `waits` returns."""
    async with anyio.create_task_group() as group:

        async def wait(one: Callable[[], Awaitable[object]]) -> None:
            await one()
            group.cancel_scope.cancel()

        for one in waits:
            group.start_soon(wait, one)


__all__ = ["LiveAgents"]
