"""`agent-bridge check-config`: validate the settings and print the agents and tokens they define."""

from __future__ import annotations

import argparse
import sys

from mcp_server.config import add_config_argument, agent_tools, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    print(
        f"configuration OK: {len(config.backends)} backend(s), {len(config.agents)} agent(s), "
        f"{len(config.tokens)} token(s)"
    )
    for agent in config.agents:
        backend = config.backends[agent.backend]
        target = (
            f"project {agent.project_id}"
            if agent.project_id
            else (f"model {agent.model}" if agent.model else f"agent {agent.agent_id}")
        )
        print(
            f"  agent {agent.name}: {backend.kind} {target} at {backend.base_url}; "
            f"tools: {', '.join(agent_tools(agent, backend.kind))}"
        )
    for token in config.tokens:
        print(f"  token {token.name}: agents {', '.join(token.agents)}; tools {', '.join(token.tools)}")
    if not config.tokens and config.server.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"  warning: server.host is {config.server.host} and no tokens are configured; "
            "`agent-bridge serve` will refuse to start without --insecure-no-auth",
            file=sys.stderr,
        )
    return 0
