"""`agent-bridge check-config`: validate the settings, then (unless `--offline`) check each agent against
its upstream once, and print the agents under the names `serve` will give them, and the tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Final

import anyio

from mcp_server.agents import EVERYTHING, Agent, AgentRegistry
from mcp_server.backends.codegpt import CodeGPTBackend
from mcp_server.backends.customgpt import CustomGPTBackend
from mcp_server.config import AgentConfig, BridgeConfig, agent_tools
from mcp_server.config_loading import add_config_argument, load
from mcp_server.errors import UpstreamError
from mcp_server.oauth.issuer_check import issuer_warnings

CHECK_TIMEOUT_SECONDS: Final = 15.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--offline", action="store_true", help="only validate the settings; do not contact the upstream APIs"
    )


def _target(agent: AgentConfig) -> str:
    if agent.project_id:
        return f"project {agent.project_id}"
    if agent.gpt:
        return f"custom GPT {agent.gpt} (model {agent.upstream_model()})"
    return f"model {agent.model}" if agent.model else f"agent {agent.agent_id}"


async def _check(agent: Agent) -> tuple[bool, str]:
    """One request with the agent's key: reachable, key accepted, agent found."""
    backend = agent.backend
    if not isinstance(backend, CustomGPTBackend | CodeGPTBackend):
        return True, "not checked (an OpenAI-compatible API has no free check; a question would cost a completion)"
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            if isinstance(backend, CodeGPTBackend):  # reading the agent costs nothing
                listing = await backend.list_sources(1)
                return True, f"OK (reachable, key accepted, agent found with {listing.total_pages} document(s))"
            profile = await backend.profile()
    except UpstreamError as exc:
        return False, f"FAILED: {exc}"
    except TimeoutError:
        return False, f"FAILED: no answer within {CHECK_TIMEOUT_SECONDS:g} seconds; check base_url"
    return True, f"OK (reachable, key accepted, project '{profile.title}' found)"


async def _online(config: BridgeConfig) -> list[tuple[AgentConfig, Agent, bool, str]]:
    results: list[tuple[AgentConfig, Agent, bool, str]] = []
    async with AgentRegistry.open(config) as registry:  # names as `serve` gives them (discovery included)
        for agent_config, agent in zip(config.agents, registry.visible(EVERYTHING), strict=True):
            ok, said = await _check(agent)
            results.append((agent_config, agent, ok, said))
    return results


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    print(
        f"configuration OK: {len(config.backends)} backend(s), {len(config.agents)} agent(s), "
        f"{len(config.tokens)} token(s)"
    )
    failed = False
    if args.offline:
        rows = [(a, a.name, "") for a in config.agents]
        if config.discover_agent_names:
            print("  (offline: agents keep their project-<id> names; `serve` names them after their projects)")
    else:
        checked = anyio.run(_online, config)
        rows = [(a, agent.name, f"; upstream: {said}") for a, agent, _, said in checked]
        failed = not all(ok for _, _, ok, _ in checked)
    for agent_config, name, upstream in rows:
        backend = config.backends[agent_config.backend]
        print(
            f"  agent {name}: {backend.kind} {_target(agent_config)} at {backend.base_url}; "
            f"tools: {', '.join(agent_tools(agent_config, backend.kind))}{upstream}"
        )
    for token in config.tokens:
        print(f"  token {token.name}: agents {', '.join(token.agents)}; tools {', '.join(token.tools)}")
    if config.oauth.enabled:
        issuers = [*config.oauth.issuer, *(["built-in"] if config.oauth.built_in else [])]
        print(f"  oauth: resource {config.server.public_url}; issuers: {', '.join(issuers)}")
    if config.oauth.issuer and not args.offline:
        for warning in anyio.run(issuer_warnings, config.oauth.issuer):
            print(f"  warning: {warning}", file=sys.stderr)
    if not config.tokens and not config.oauth.enabled and config.server.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"  warning: server.host is {config.server.host} and no tokens are configured; "
            "`agent-bridge serve` will refuse to start without --insecure-no-auth",
            file=sys.stderr,
        )
    return 1 if failed else 0
