"""Which agents a request may use: the endpoint (`/mcp`, `/agents/{agent}/...`, `/projects/{id}/...`)
and the caller's identity decide its `AgentView`. An agent outside the caller's scope is answered
exactly like one that does not exist (no probing); an OAuth caller is told which scope would do.
Passthrough callers (`server.passthrough`) get one agent on their own upstream key."""

from __future__ import annotations

import re
from typing import Final

from starlette.requests import Request

from mcp_server.agents import AgentRegistry, Face
from mcp_server.auth import HOW_TO_PASS_A_TOKEN, Identity, Refusal, passthrough_identity
from mcp_server.mcp_face import AgentView
from mcp_server.oauth.challenge import OAuthRefusal
from mcp_server.oauth.scopes import ALL_AGENTS, agent_scope

_PROJECT_NUMBER: Final = re.compile(r"[1-9][0-9]{0,17}")
_PLAUSIBLE_KEY: Final = re.compile(r"[A-Za-z0-9|._~+/=-]{8,512}")


def project_number(text: str) -> int | None:
    """A CustomGPT project id from a URL segment: ASCII digits, no leading zero, at most 18 of them."""
    return int(text) if _PROJECT_NUMBER.fullmatch(text) else None


def is_plausible_upstream_key(text: str) -> bool:
    """Whether a passthrough credential could be a CustomGPT API key (`<id>|<40 characters>`, or any
    token of 8-512 URL-safe characters); anything else is refused before it costs anything."""
    return _PLAUSIBLE_KEY.fullmatch(text) is not None


def endpoint_view(registry: AgentRegistry, request: Request, identity: Identity) -> AgentView:
    """The agents of the endpoint that `identity` may use. An agent outside the token's scope is
    answered exactly like one that does not exist, so a token cannot learn other agents' names."""
    params = request.path_params
    visible = registry.visible(identity.scope)
    if "agent" in params:
        agent = registry.get(params["agent"])
        if agent is not None and identity.oauth and not identity.scope.allows_agent(agent.name):
            raise wants_scope(agent.name)
        if agent is None or not identity.scope.allows_agent(agent.name):
            names = ", ".join(a.name for a in visible) or "none"
            raise Refusal(404, f"No agent by that name for this token. Agents you may use: {names}.")
        agents = [agent]
    elif "project_id" in params:
        project_id = project_number(params["project_id"])
        agent = registry.by_project(project_id) if project_id is not None else None
        if agent is not None and identity.oauth and not identity.scope.allows_agent(agent.name):
            raise wants_scope(agent.name)
        if agent is None or not identity.scope.allows_agent(agent.name):
            ids = ", ".join(str(a.project_id) for a in visible if a.project_id is not None) or "none"
            raise Refusal(404, f"No agent serves that project for this token. Projects you may use: {ids}.")
        agents = [agent]
    else:
        agents = visible
        if not agents and identity.oauth:
            raise OAuthRefusal(
                403,
                "The access token grants no agent on this bridge.",
                error="insufficient_scope",
                scope=ALL_AGENTS,
            )
        if not agents:
            raise Refusal(403, f"Token '{identity.name}' may not use any agent on this bridge.")
    face: Face = "chatgpt" if "/chatgpt/" in request.url.path else "agents"
    return AgentView(tuple(agents), identity.scope, identity.principal, face)


def wants_scope(agent: str) -> OAuthRefusal:
    """OAuth clients ask the person to consent to more on a 403 naming the scope that would do."""
    return OAuthRefusal(
        403,
        f"The access token does not cover agent '{agent}'; sign in again granting {agent_scope(agent)}.",
        error="insufficient_scope",
        scope=agent_scope(agent),
    )


def passthrough_view(registry: AgentRegistry, project: str, upstream_key: str) -> AgentView:
    """One agent on the caller's own upstream key, over the backend's shared connection pool.

    Passthrough risk: with `server.passthrough = true` the bridge's tokens no longer gate the
    `/projects/{id}/...` URLs. Anyone who can reach the bridge may use it as a relay to the
    upstream with whatever key they hold, the bridge handles every such key in transit, and a
    mistyped bridge token on those URLs is forwarded upstream as if it were a key. Turn it on
    only for a hosted-style multi-tenant deployment behind your own authentication and TLS.

    Nothing here costs more than a refusal until the upstream has seen the key: its shape is
    checked first, no client is built, and the agent shows nothing of the bridge's own
    configuration (names, titles, descriptions of configured projects).
    """
    project_id = project_number(project)
    if project_id is None:
        raise Refusal(404, "That is not a CustomGPT project id (a positive number).")
    if not is_plausible_upstream_key(upstream_key):
        raise Refusal(401, f"The token is not valid. {HOW_TO_PASS_A_TOKEN}")
    agent = registry.passthrough_agent(project_id, upstream_key)
    if agent is None:
        raise Refusal(404, "Passthrough needs a [backends.*] table of kind 'customgpt' for the upstream URL.")
    identity = passthrough_identity(upstream_key)
    return AgentView((agent,), identity.scope, identity.principal)
