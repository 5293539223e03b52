"""Settings models: the validated shape of a `BridgeConfig` (server, Actions, store, OAuth, backends,
agents, tokens) and the checks across its parts.

Validators raise `ValueError` naming the key path and the fix; reading a file or the environment into
these models (and turning those errors into a `ConfigError`) is `mcp_server.config_loading`'s job.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from mcp_server.backends import KINDS, BackendConfig, with_default_kind
from mcp_server.backends.gizmo import parse_gpt
from mcp_server.operations import TOOL_NAMES, tools_for
from mcp_server.protection import RateLimit

AGENT_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"


def _readable_rate(value: str) -> str:
    RateLimit.parse(value)  # raises ValueError saying how to write a rate
    return value


RateText = Annotated[str, AfterValidator(_readable_rate)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def kind_tools(kind: str) -> tuple[str, ...]:
    """Every tool a backend kind can serve, from the operations registry and the kind's capabilities."""
    return tools_for(KINDS[kind].capabilities)


class AgentConfig(_Strict):
    """One agent on a backend: a CustomGPT project, or a model behind an OpenAI-compatible API."""

    name: Annotated[str, Field(pattern=AGENT_NAME_PATTERN)]
    backend: str = "customgpt"
    project_id: int | None = Field(default=None, gt=0, le=10**18, strict=True)  # true is not project 1
    model: str | None = None  # openai backends
    gpt: str | None = None  # openai backends, instead of model: a custom GPT's link or g-... id
    # codegpt backends: the agent's id (a UUID), one URL path segment
    agent_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$")
    system_prompt: str | None = None
    title: str | None = None
    description: str | None = None
    # Shown by clients beside the agent's tools and prompts (MCP `icons`): an https URL or a data:image URI.
    icon: str | None = Field(default=None, max_length=65_536)
    # None: every tool the backend supports.
    tools: tuple[str, ...] | None = None
    # The ChatGPT connector's `fetch` of a cited source reads its public page, from these hosts only.
    fetch_pages: bool = False
    fetch_hosts: tuple[str, ...] = ()

    @field_validator("gpt")
    @classmethod
    def _readable_gpt(cls, value: str | None) -> str | None:
        if value is not None:
            parse_gpt(value)  # raises ValueError saying what is wrong with it
        return value

    def upstream_model(self) -> str | None:
        """The model an `openai` agent names: `model`, else the `gpt-4-gizmo-<id>` its `gpt` derives."""
        return self.model or (parse_gpt(self.gpt).model if self.gpt else None)

    def default_title(self) -> str:
        """`title`, else the custom GPT's name from its link, else the agent's name."""
        return self.title or (parse_gpt(self.gpt).name if self.gpt else None) or self.name

    @field_validator("icon")
    @classmethod
    def _icon_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "data:image/")):
            raise ValueError('must be an https:// URL or a data:image/ URI, e.g. "https://example.com/logo.png"')
        return value

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = [t for t in value or () if t not in TOOL_NAMES]
        if unknown:
            raise ValueError(f"unknown tool {', '.join(unknown)}; the tools are {', '.join(TOOL_NAMES)}")
        return value


def agent_tools(agent: AgentConfig, kind: str) -> tuple[str, ...]:
    """The tools an agent exposes: those configured, else all its backend supports."""
    return tuple(agent.tools) if agent.tools is not None else kind_tools(kind)


class TokenConfig(_Strict):
    """A client credential, stored only as its sha256 hex digest."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    agents: tuple[str, ...] = ("*",)
    tools: tuple[str, ...] = ("*",)
    # "agent_config": the settings resource also shows the operator's system prompt and upstream agent ids.
    # "metrics": the token may read /metrics (a scraper's token may have `agents = []`).
    scopes: tuple[Literal["agent_config", "metrics"], ...] = ()
    # Tool calls and resource reads this token may make: "60/minute" (second, minute, hour, day) or "off";
    # default: server.rate_limit.
    rate_limit: RateText | None = None


class ServerConfig(_Strict):
    """How the HTTP server listens and whom it lets in."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Signs the conversation ids handed to clients (they belong to the token that started them);
    # default: derived from the upstream keys. Set it to keep conversations across a key change.
    secret: SecretStr | None = None
    # Stateful Streamable HTTP sessions, and HTTP+SSE streams, one token may hold open at once.
    max_sessions_per_token: int = Field(default=100, ge=1)
    # ...and all tokens together (each kind counted apart).
    max_sessions: int = Field(default=10_000, ge=1)
    # A stateful session, or an SSE stream, with no request for this long (and no call in flight) is closed.
    session_idle_seconds: float = Field(default=1800.0, gt=0, le=7 * 86400)
    # Every token's rate limit unless its [[tokens]] entry sets one (passthrough keys and OAuth callers
    # too). Unset: "60/minute" for them, and none in the open mode (no tokens, no OAuth: one user's local
    # bridge); set, it applies to the open mode as well.
    rate_limit: RateText | None = None
    public_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    stateless: bool = True
    passthrough: bool = False
    call_deadline_seconds: float = Field(default=300.0, gt=0)
    keepalive_seconds: float = Field(default=10.0, gt=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    # An audit line (JSON) per tool call, connector search/fetch, resource read and Actions operation: a
    # file path, or "logger:<name>" for a Python logger. Off when unset.
    audit_log: str | None = None
    # Also write each call's question and answer text in its audit line (never a token). Off by default.
    audit_content: bool = False
    # The bridge's URL as its clients reach it (e.g. behind a proxy): `https://bridge.example.com`.
    public_url: str | None = None
    # Also serve /metrics, with no token, on this port of metrics_host (for scrapers in a private network).
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # Replicas behind a balancer: this replica's name, written into each SSE stream's messages path
    # (`/messages/<node_id>/?session_id=...`) so the balancer can route the POSTs to it. None: one replica.
    node_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", value):
            raise ValueError("must be an http:// or https:// URL without query, e.g. https://bridge.example.com")
        return value.rstrip("/") if value is not None else None


class ActionsConfig(_Strict):
    """The ChatGPT Actions / OpenAPI facade (`/actions/...`); off unless enabled."""

    enabled: bool = False
    # How long `ask` (and each answers/{id} call) waits before answering `in_progress`: ChatGPT gives
    # an Action 45 seconds in all.
    answer_wait_seconds: float = Field(default=35.0, gt=0, le=600)
    # A finished answer nobody fetched is dropped this long after it finished.
    answer_ttl_seconds: float = Field(default=300.0, gt=0)
    # Answers one token may have in flight (running or not yet fetched) at once.
    max_answers_per_token: int = Field(default=10, ge=1)


class StoreConfig(_Strict):
    """Shared state: in this process by default; a Valkey/Redis URL (`redis://host:6379/0`) lets replicas
    share conversations, answers in progress and caches. It may hold a password: kept secret."""

    url: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _store_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"(rediss?|unix)://\S+", value.get_secret_value()):
            raise ValueError("must be a redis://host:port/db, rediss://... or unix://... URL of a Valkey/Redis server")
        return value


_LOOPBACK_URL = re.compile(r"http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/[^?#\s]*)?")


def _as_tuple(value: object) -> object:
    """A single string where a list is expected (`issuer = "https://..."`) becomes a one-item list."""
    return (value,) if isinstance(value, str) else value


class OAuthConfig(_Strict):
    """OAuth 2.1 sign-in: tokens from external issuers, and/or the bridge's own authorization server."""

    # Identity providers whose JWT access tokens the bridge accepts (their `iss`), e.g.
    # "https://id.example.com/realms/acme". https, or http on loopback only.
    issuer: tuple[str, ...] = ()
    # Audiences accepted besides `server.public_url` (for providers that cannot put the URL in `aud`).
    audience: tuple[str, ...] = ()
    # For providers where scopes are awkward: a claim (e.g. "groups") whose values map to agents, as
    # [oauth.claim_agents] "support-team" = ["support"] ("*" for every agent). Adds to agent:* scopes.
    agents_claim: str | None = None
    claim_agents: dict[str, tuple[str, ...]] = Field(default_factory=dict[str, tuple[str, ...]])
    # RFC 7662 introspection for opaque (non-JWT) access tokens, with the bridge's own client credentials.
    introspection_url: str | None = None
    introspection_client_id: str | None = None
    introspection_client_secret: SecretStr | None = None
    introspection_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # The bridge is its own authorization server at `server.public_url` (sign in with a bridge token).
    built_in: bool = False
    # Built-in server: accept an https URL as a client id and fetch the client's metadata document
    # there (Claude Code, VS Code); off for a bridge that cannot reach the internet (clients then register).
    client_metadata_documents: bool = True
    leeway_seconds: float = Field(default=60.0, ge=0, le=600)
    # Built-in server: the lifetime of the access tokens it issues (clients refresh them by themselves
    # when they expire), and of its refresh tokens (each good once: a refresh returns a new one).
    access_token_seconds: int = Field(default=600, ge=5, le=86_400)
    refresh_token_days: float = Field(default=30.0, gt=0, le=365)

    @field_validator("issuer", "audience", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return _as_tuple(value)

    @field_validator("issuer")
    @classmethod
    def _issuers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for issuer in value:
            if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", issuer):
                raise ValueError(f"'{issuer}' is not an issuer URL; use https://id.example.com/realms/acme")
            if issuer.startswith("http://") and not _LOOPBACK_URL.fullmatch(issuer):
                raise ValueError(f"'{issuer}' must use https (http is accepted only on loopback, for tests)")
        return value

    @model_validator(mode="after")
    def _introspection(self) -> OAuthConfig:
        url = self.introspection_url
        if url is None:
            return self
        if not re.fullmatch(r"https?://[^/?#\s]+(/[^#\s]*)?", url) or (
            url.startswith("http://") and not _LOOPBACK_URL.fullmatch(url.split("?")[0])
        ):
            raise ValueError("introspection_url: use an https URL (http only on loopback)")
        if not self.issuer:
            raise ValueError("issuer: list the issuer whose opaque tokens introspection_url checks")
        if self.introspection_client_id is None or self.introspection_client_secret is None:
            raise ValueError(
                "introspection_client_id: introspection needs the bridge's client id and "
                "introspection_client_secret (write the secret as ${ENV_NAME})"
            )
        return self

    @property
    def enabled(self) -> bool:
        return self.built_in or bool(self.issuer)


class BridgeConfig(_Strict):
    server: ServerConfig = ServerConfig()
    actions: ActionsConfig = ActionsConfig()
    store: StoreConfig = StoreConfig()
    oauth: OAuthConfig = OAuthConfig()
    backends: dict[str, BackendConfig] = Field(default_factory=dict[str, BackendConfig])
    agents: tuple[AgentConfig, ...] = ()
    tokens: tuple[TokenConfig, ...] = ()
    # True when agents came from CUSTOMGPT_PROJECT_IDS: names/descriptions are resolved upstream.
    discover_agent_names: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_backend_kinds(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        table = cast(dict[str, Any], data)
        backends = table.get("backends")
        if not isinstance(backends, dict):
            return table
        tables = cast(dict[str, Any], backends)
        return {**table, "backends": {name: with_default_kind(b) for name, b in tables.items()}}

    @model_validator(mode="after")
    def _oauth_needs_public_url(self) -> BridgeConfig:
        if self.oauth.enabled and self.server.public_url is None:
            raise ValueError(
                "server.public_url: required with [oauth] (it is the resource identifier tokens are issued for), "
                'e.g. public_url = "https://bridge.example.com"'
            )
        if self.oauth.built_in and not self.tokens:
            raise ValueError(
                "oauth.built_in: people sign in by pasting a bridge token, and none is configured; "
                "add one with `agent-bridge token new`"
            )
        return self

    @model_validator(mode="after")
    def _references(self) -> BridgeConfig:
        names: set[str] = set()
        for i, agent in enumerate(self.agents):
            if agent.name in names:
                raise ValueError(f"agents[{i}].name: '{agent.name}' is used twice; agent names must be unique")
            names.add(agent.name)
            if agent.backend not in self.backends:
                known = ", ".join(sorted(self.backends)) or "none"
                raise ValueError(
                    f"agents[{i}].backend: no backend named '{agent.backend}' (defined: {known}); "
                    f"add a [backends.{agent.backend}] table"
                )
            kind = self.backends[agent.backend].kind
            spec = KINDS[kind]
            if not getattr(agent, spec.target_field) and not (kind == "openai" and agent.gpt):
                raise ValueError(
                    f"agents[{i}].{spec.target_field}: required for a {kind} backend ({spec.target_example})"
                )
            unused = [
                f
                for f in ("project_id", "model", "agent_id", "gpt")
                if f != spec.target_field and getattr(agent, f) is not None and not (f == "gpt" and kind == "openai")
            ]
            if agent.model and agent.gpt:
                raise ValueError(
                    f"agents[{i}].gpt: give either model or gpt (a custom GPT's link or id), not both; "
                    "gpt derives the model gpt-4-gizmo-<id>"
                )
            if unused:
                raise ValueError(
                    f"agents[{i}].{unused[0]}: not used by a {kind} backend (it names its agent by "
                    f"{spec.target_field}); remove it"
                )
            if agent.fetch_pages and not agent.fetch_hosts:
                raise ValueError(
                    f"agents[{i}].fetch_hosts: list the hosts whose pages may be fetched "
                    '(e.g. ["docs.example.com"]); fetch_pages reads no other host'
                )
            unsupported = set(agent.tools or ()) - set(kind_tools(kind))
            if unsupported:
                raise ValueError(
                    f"agents[{i}].tools: {', '.join(sorted(unsupported))} not available on the {kind} backend; "
                    f"use {list(kind_tools(kind))}"
                )
        for value, mapped in self.oauth.claim_agents.items():
            for agent_name in mapped:
                if agent_name != "*" and agent_name not in names:
                    raise ValueError(f"oauth.claim_agents.{value}: unknown agent '{agent_name}'")
        if self.oauth.claim_agents and self.oauth.agents_claim is None:
            raise ValueError('oauth.agents_claim: name the claim claim_agents maps (e.g. agents_claim = "groups")')
        token_names = [t.name for t in self.tokens]
        for i, token in enumerate(self.tokens):
            if token_names.count(token.name) > 1:
                raise ValueError(f"tokens[{i}].name: '{token.name}' is used twice; token names must be unique")
            for agent_name in token.agents:
                if agent_name != "*" and agent_name not in names:
                    raise ValueError(f"tokens[{i}].agents: unknown agent '{agent_name}'")
        return self
