"""The OpenAPI documents of the facade, generated from the operations registry.

`agent_document` describes one agent's operations; `combined_document` every agent's (operationIds
then start with the agent's name). Both are OpenAPI 3.1.0 with the registry's JSON Schemas as they
are; `as_openapi_30` renders a document as 3.0.3 for tools that read no 3.1.

Written for ChatGPT's Actions runtime: operationIds match `^[a-zA-Z0-9_-]{1,64}$`, each operation's
summary and description stay within 300 characters and each parameter's description within 700,
`ask` says `x-openai-isConsequential: false` (a question is not a consequential act), and the
document declares exactly one security scheme (the GPT editor accepts one): Bearer unless asked for
`basic`, `api_key` or (with `[oauth]`) `oauth`, an OAuth 2.0 authorization-code flow at the bridge's
own authorization server or its identity provider, with the agents' `agent:<name>` scopes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from mcp_server import __version__
from mcp_server.actions.catalog import ANSWER_ID_SCHEMA, ASK, ENDPOINTS, GET_ANSWER, AnswerOut, Endpoint, GetAnswerArgs
from mcp_server.actions.failures import ErrorOut
from mcp_server.agents import Agent

MAX_OPERATION_TEXT: Final = 300
MAX_PARAMETER_TEXT: Final = 700
AuthStyle = Literal["bearer", "basic", "api_key", "oauth"]
AUTH_STYLES: Final[tuple[AuthStyle, ...]] = ("bearer", "basic", "api_key", "oauth")
OAUTH_SCHEME: Final = "oauth2"
_SCHEMES: Final[dict[AuthStyle, tuple[str, dict[str, str]]]] = {
    "bearer": ("bearerAuth", {"type": "http", "scheme": "bearer"}),
    "basic": ("basicAuth", {"type": "http", "scheme": "basic"}),
    "api_key": ("apiKeyAuth", {"type": "apiKey", "in": "header", "name": "X-API-Key"}),
}
_REF: Final = "#/components/schemas/{model}"


@dataclass(frozen=True, slots=True)
class OAuthFlow:
    """Where a person signs in and where the client gets its tokens (OpenAPI `authorizationCode`)."""

    authorization_url: str
    token_url: str


def _oauth_scheme(flow: OAuthFlow, agents: Sequence[Agent], combined: bool) -> tuple[dict[str, Any], list[str]]:
    """The OAuth 2.0 security scheme and the scopes the document's operations need."""
    scopes = {f"agent:{a.name}": clip(f"Use {a.title}", MAX_PARAMETER_TEXT) for a in agents}
    if combined:
        scopes = {"agent:*": "Use every agent the sign-in grants", **scopes}
    code = {"authorizationUrl": flow.authorization_url, "tokenUrl": flow.token_url, "scopes": scopes}
    code["refreshUrl"] = flow.token_url
    return {"type": "oauth2", "flows": {"authorizationCode": code}}, [f"agent:{a.name}" for a in agents]


_ERRORS: Final = {
    "400": "Bad request (the message names the cause).",
    "401": "No token, or not a valid one.",
    "403": "The token may not use this operation.",
    "404": "No such agent, conversation or answer for this token.",
    "422": "Invalid input; the message names the field.",
    "429": "Too many answers in progress, or the agent's API is rate-limiting (see Retry-After).",
    "502": "The agent's API failed or answered something unusable.",
    "503": "The agent's API (or the bridge) is unavailable right now; retry shortly.",
    "504": "The agent's API did not answer in time.",
}
_EXAMPLE_QUESTION: Final = "What are the main topics you can answer questions about?"


def clip(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return cut + "…"


def operation_text(endpoint: Endpoint, agent: Agent, answer_operation: str) -> str:
    """The registry's description within 300 characters: its first sentence (the agent's description,
    clipped if need be), then its other sentences while they fit, then (ask) how to fetch the rest."""
    note = f" If status is in_progress, call {answer_operation} with answer_id for the rest." if endpoint is ASK else ""
    room = MAX_OPERATION_TEXT - len(note)
    first, *rest = endpoint.operation.description.split(". ")
    head = first.format(description="")
    text = first.format(description=clip(agent.description, max(room - len(head) - 1, 20))).rstrip(".") + "."
    for sentence in rest:
        sentence = sentence if sentence.endswith(".") else sentence + "."
        if len(text) + 1 + len(sentence) <= room:
            text += " " + sentence
    return clip(text + note, MAX_OPERATION_TEXT)


def _schemas() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for endpoint in ENDPOINTS:
        models.append((endpoint.operation.args, "validation"))
        if endpoint is not ASK:
            models.append((endpoint.operation.result, "serialization"))
    models.append((AnswerOut, "serialization"))
    models.append((ErrorOut, "serialization"))
    _, top = models_json_schema(models, ref_template=_REF)
    return cast(dict[str, Any], top.get("$defs", {}))


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _query_parameters(args: type[BaseModel]) -> list[dict[str, Any]]:
    schema = args.model_json_schema()
    required = set(schema.get("required", []))
    out: list[dict[str, Any]] = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k not in ("title", "description")}
        described = args.model_fields[name].description or name
        out.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": clip(described, MAX_PARAMETER_TEXT),
                "schema": prop,
            }
        )
    return out


def _responses(model: type[BaseModel], description: str, *, body_limit: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "200": {"description": description, "content": {"application/json": {"schema": _ref(model)}}}
    }
    errors = dict(_ERRORS, **({"413": "The request body is over 100,000 bytes."} if body_limit else {}))
    for status in sorted(errors):
        out[status] = {"description": errors[status], "content": {"application/json": {"schema": _ref(ErrorOut)}}}
    out["429"]["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
    return out


def _operations(agent: Agent, prefix: str) -> dict[str, Any]:
    """The paths of `agent`'s operations; `prefix` goes before each operationId ("" or "<agent>_")."""
    paths: dict[str, Any] = {}
    answer_operation = f"{prefix}{GET_ANSWER}"
    for endpoint in ENDPOINTS:
        if endpoint.tool not in agent.tools:
            continue
        op = endpoint.operation
        operation: dict[str, Any] = {
            "operationId": f"{prefix}{endpoint.operation_id}",
            "summary": clip(op.titled(agent.title), MAX_OPERATION_TEXT),
            "description": operation_text(endpoint, agent, answer_operation),
            "x-openai-isConsequential": False,
        }
        if endpoint.method == "POST":
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op.args), "example": {"question": _EXAMPLE_QUESTION}}},
            }
        else:
            operation["parameters"] = _query_parameters(op.args)
        result: type[BaseModel] = AnswerOut if endpoint is ASK else op.result
        operation["responses"] = _responses(result, "The result.", body_limit=endpoint.method == "POST")
        if endpoint is ASK:  # where answer_id goes next, for tools that follow OpenAPI links
            operation["responses"]["200"]["links"] = {
                "rest": {"operationId": answer_operation, "parameters": {"answer_id": "$response.body#/answer_id"}}
            }
        paths[f"/actions/{agent.name}/{endpoint.path}"] = {endpoint.method.lower(): operation}
    if ASK.tool in agent.tools:
        paths[f"/actions/{agent.name}/answers/{{answer_id}}"] = {
            "get": {
                "operationId": answer_operation,
                "summary": clip(f"Get the rest of an answer from {agent.title}", MAX_OPERATION_TEXT),
                "description": (
                    "Continue an answer that came back with status in_progress (or with next_offset): returns "
                    "the answer from offset, complete or still in_progress (then call again)."
                ),
                "x-openai-isConsequential": False,
                "parameters": [
                    {
                        "name": "answer_id",
                        "in": "path",
                        "required": True,
                        "description": "The answer_id from ask.",
                        "schema": dict(ANSWER_ID_SCHEMA),
                    },
                    *_query_parameters(GetAnswerArgs),
                ],
                "responses": _responses(AnswerOut, "The answer, complete or still in progress."),
            }
        }
    return paths


def _document(
    title: str,
    description: str,
    server_url: str,
    paths: dict[str, Any],
    auth: AuthStyle | None,
    oauth: tuple[dict[str, Any], list[str]] | None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__, "description": description},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": _schemas()},
    }
    if auth == "oauth":
        if oauth is None:
            raise ValueError("an OAuth document needs the OAuth flow")
        document["components"]["securitySchemes"] = {OAUTH_SCHEME: oauth[0]}
        document["security"] = [{OAUTH_SCHEME: oauth[1]}]
    elif auth is not None:
        name, scheme = _SCHEMES[auth]
        document["components"]["securitySchemes"] = {name: scheme}
        document["security"] = [{name: []}]
    return document


def agent_document(
    agent: Agent, server_url: str, auth: AuthStyle | None, flow: OAuthFlow | None = None
) -> dict[str, Any]:
    """One agent's operations. `auth` None: the bridge takes no tokens (a loopback-only bridge);
    `oauth` needs `flow`."""
    oauth = _oauth_scheme(flow, [agent], combined=False) if flow is not None else None
    title = f"{agent.title} (Agent Bridge)"
    return _document(title, agent.description, server_url, _operations(agent, ""), auth, oauth)


def combined_document(
    agents: Sequence[Agent], server_url: str, auth: AuthStyle | None, flow: OAuthFlow | None = None
) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for agent in agents:
        paths.update(_operations(agent, f"{agent.name}_"))
    listed = "; ".join(f"{a.name}: {a.title}" for a in agents) or "none"
    description = f"Ask hosted knowledge-base agents and find their sources. Agents: {listed}."
    oauth = _oauth_scheme(flow, agents, combined=True) if flow is not None else None
    return _document("Agent Bridge", description, server_url, paths, auth, oauth)


# -- 3.0.3 ----------------------------------------------------------------------------------------


def _schema_30(schema: Any) -> Any:
    """A JSON Schema (2020-12, as pydantic writes it) as an OpenAPI 3.0 Schema Object."""
    if isinstance(schema, list):
        return [_schema_30(s) for s in cast(list[Any], schema)]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {k: _schema_30(v) for k, v in cast(dict[str, Any], schema).items()}
    out.pop("$schema", None)
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "examples" in out:
        examples = out.pop("examples")
        if isinstance(examples, list) and examples:
            out["example"] = cast(list[Any], examples)[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out.get(bound), bool):
            out[plain], out[bound] = out[bound], True
    if isinstance(out.get("type"), list):
        types = [t for t in cast(list[str], out["type"]) if t != "null"]
        if len(types) < len(out["type"]):
            out["nullable"] = True
        out["type"] = types[0] if len(types) == 1 else types
    for key in ("anyOf", "oneOf"):
        if key in out:
            members = cast(list[Any], out[key])
            kept = [m for m in members if m != {"type": "null"}]
            if len(kept) < len(members):
                out["nullable"] = True
                if len(kept) == 1:
                    del out[key]
                    only = cast(dict[str, Any], kept[0])
                    out.update({"allOf": [only]} if "$ref" in only else only)
                else:
                    out[key] = kept
    if "$ref" in out and len(out) > 1:
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def as_openapi_30(document: dict[str, Any]) -> dict[str, Any]:
    """`document` (3.1.0) rendered as OpenAPI 3.0.3."""
    out = copy.deepcopy(document)
    out["openapi"] = "3.0.3"
    schemas = out["components"]["schemas"]
    for name in list(schemas):
        schemas[name] = _schema_30(schemas[name])
    for item in out["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _schema_30(parameter["schema"])
    return out
