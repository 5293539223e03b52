"""`server.metrics_port`: /metrics on a port of its own, with no token, for scrapers in a private network.

It runs in the serving process (with `--workers N`, the supervisor), on prometheus_client's own small
HTTP server in a daemon thread, and listens on `server.metrics_host` (127.0.0.1 unless set).
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client import multiprocess as _multiprocess

from mcp_server.config import BridgeConfig
from mcp_server.errors import ConfigError

logger = logging.getLogger(__name__)


@contextmanager
def serving_metrics(config: BridgeConfig, multiprocess_dir: str | None) -> Generator[None]:
    port = config.server.metrics_port
    if port is None:
        yield
        return
    registry = REGISTRY
    if multiprocess_dir is not None:
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    try:
        server, thread = start_http_server(port, addr=config.server.metrics_host, registry=registry)
    except OSError as exc:
        raise ConfigError(
            f"server.metrics_port: cannot listen on {config.server.metrics_host}:{port} ({exc.strerror}); "
            "pick another port"
        ) from None
    logger.info("metrics on http://%s:%d/metrics", config.server.metrics_host, server.server_port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
