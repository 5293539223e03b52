"""Every client's snippet, for every kind of target, parses as its format and has the client's documented shape;
secrets from the environment are referenced, never copied; `agent-bridge connect` prints the same text."""

from __future__ import annotations

import ast
import json
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_server.client_snippets import CLIENTS, snippets
from mcp_server.errors import ConfigError
from mcp_server.framework_snippets import FRAMEWORKS
from mcp_server.snippet_targets import Local, Served, Snippet, Target, local, served

SECRET_KEY = "sk-secret-key-from-the-environment-7f3a"
ENV = {"CUSTOMGPT_API_KEY": SECRET_KEY, "CUSTOMGPT_PROJECT_IDS": "12,34", "CUSTOMGPT_BASE_URL": "http://upstream:9"}
URL = "https://bridge.example.com/agents/support/mcp"
HTTP_ONLY = {"codex", "zed", "open-webui"}
SERVED_ONLY = {"n8n", "chatgpt-actions", *FRAMEWORKS}


def parsed(snippet: Snippet) -> Any:
    if snippet.format == "json":
        return json.loads(snippet.text)
    if snippet.format == "toml":
        return tomllib.loads(snippet.text)
    if snippet.format == "yaml":
        return yaml.safe_load(snippet.text)
    if snippet.format == "python":
        return ast.parse(snippet.text)
    if snippet.format == "shell":
        return shlex.split(snippet.text)
    assert snippet.format == "text"
    return snippet.text


def targets(tmp_path: Path) -> dict[str, Target]:
    config = tmp_path / "bridge.toml"
    config.write_text('[backends.customgpt]\napi_key = "${MY_KEY}"\n[[agents]]\nname = "a"\nproject_id = 1\n')
    return {
        "token": served(URL, token="tok-given-123"),
        "token-env": served(URL, token_env="BRIDGE_TOKEN"),
        "open": served("http://127.0.0.1:8000"),
        "sse": served(URL, token="tok-given-123", transport="sse"),
        "env-mode": local(None, ENV),
        "config-file": local(config, {}),
    }


def _documented_shape(client: str, data: Any, target: Target) -> None:
    """The keys each client's documentation names for a URL server or a command server."""
    if isinstance(data, str | ast.Module):
        return
    http = isinstance(target, Served)
    if client in ("claude-desktop", "cursor", "windsurf", "gemini-cli", "cline"):
        (entry,) = data["mcpServers"].values()
        key = {"windsurf": "serverUrl"}.get(client, "url")
        if client == "claude-desktop":
            assert entry["command"] in ("npx", "uvx") or entry["command"].endswith("agent-bridge")
        elif http:
            assert entry[key] == target.url
        else:
            assert entry["args"][0] == "stdio" and isinstance(entry["env"], dict)
        if client == "gemini-cli" and http:
            assert entry["type"] == target.transport
        if client == "cline":
            assert entry["type"] in ("streamableHttp", "sse", "stdio") and entry["timeout"] >= 60
    elif client == "vscode":
        (entry,) = data["servers"].values()
        assert entry["type"] == (target.transport if isinstance(target, Served) else "stdio")
        for value in json.dumps(entry).split("${input:")[1:]:
            assert value.split("}")[0] in {i["id"] for i in data["inputs"]}
    elif client == "codex":
        entry = data["mcp_servers"]["agent-bridge"]
        assert ("url" in entry) if http else ("command" in entry)
        assert entry["tool_timeout_sec"] >= 60
    elif client == "zed":
        (entry,) = data["context_servers"].values()
        assert ("url" in entry) if http else ("command" in entry)
    elif client == "continue":
        assert data["schema"] == "v1"
        (entry,) = data["mcpServers"]
        assert entry["name"] == "agent-bridge" and (
            entry["type"] in ("streamable-http", "sse") if http else "command" in entry
        )
    elif client == "librechat":
        (entry,) = data["mcpServers"].values()
        assert (entry["type"] in ("streamable-http", "sse")) if http else ("command" in entry)
    elif client == "claude-code":
        assert data[:3] == ["claude", "mcp", "add"]
        if http:
            assert data[data.index("--transport") + 1] == target.transport and target.url in data
        else:
            assert data[data.index("--") + 2] == "stdio"
    elif client == "open-webui":
        assert (data["URL"] == target.url) if http else ("mcpo" in data)
    elif client == "n8n":
        assert isinstance(target, Served) and data["Endpoint"] == target.url
    elif client == "chatgpt-actions":
        assert data["Import from URL"] == "https://bridge.example.com/actions/support/openapi.json" or (
            data["Import from URL"] == "http://127.0.0.1:8000/actions/openapi.json"
        )


@pytest.mark.parametrize("client", list(CLIENTS))
def test_every_snippet_parses_and_has_the_documented_shape(client: str, tmp_path: Path) -> None:
    for kind, target in targets(tmp_path).items():
        if (client in HTTP_ONLY and kind == "sse") or (client in SERVED_ONLY and isinstance(target, Local)):
            with pytest.raises(ConfigError, match=r"--url|Streamable HTTP only"):
                snippets(client, target)
            continue
        produced = snippets(client, target)
        assert produced, (client, kind)
        for snippet in produced:
            _documented_shape(client, parsed(snippet), target)
            assert SECRET_KEY not in snippet.text  # an API key in the environment is never copied
            if kind == "token" or kind == "sse":
                assert "tok-given-123" in snippet.text  # a token given is printed
            if kind == "open":
                assert "Bearer" not in snippet.text


def test_secrets_are_referenced_in_each_clients_own_syntax(tmp_path: Path) -> None:
    env_mode = local(None, ENV)
    expected = {
        "cursor": "${env:CUSTOMGPT_API_KEY}",
        "windsurf": "${env:CUSTOMGPT_API_KEY}",
        "gemini-cli": "${CUSTOMGPT_API_KEY}",
        "librechat": "${CUSTOMGPT_API_KEY}",
        "continue": "${{ secrets.CUSTOMGPT_API_KEY }}",
        "vscode": "${input:customgpt-api-key}",
        "claude-code": "CUSTOMGPT_API_KEY=${CUSTOMGPT_API_KEY}",
        "claude-desktop": "<your CustomGPT API key>",  # no environment syntax: a placeholder
        "zed": "<your CustomGPT API key>",
    }
    for client, reference in expected.items():
        assert reference in snippets(client, env_mode)[-1].text, client
    codex = tomllib.loads(snippets("codex", env_mode)[0].text)["mcp_servers"]["agent-bridge"]
    assert codex["env_vars"] == ["CUSTOMGPT_API_KEY"]
    assert codex["env"] == {"CUSTOMGPT_PROJECT_IDS": "12,34", "CUSTOMGPT_BASE_URL": "http://upstream:9"}
    token_env = tomllib.loads(snippets("codex", served(URL, token_env="BRIDGE_TOKEN"))[0].text)
    assert token_env["mcp_servers"]["agent-bridge"]["bearer_token_env_var"] == "BRIDGE_TOKEN"
    from_file = snippets("cursor", targets(tmp_path)["config-file"])[0].text
    assert json.loads(from_file)["mcpServers"]["agent-bridge"]["env"] == {"MY_KEY": "${env:MY_KEY}"}


def test_claude_desktop_offers_the_bundle_uvx_and_the_installed_command() -> None:
    bundle, uvx, installed = snippets("claude-desktop", local(None, ENV))
    assert "mcpb" in bundle.text
    entry = json.loads(uvx.text)["mcpServers"]["agent-bridge"]
    assert entry["command"] == "uvx"
    assert entry["args"] == ["--from", str(Path(__file__).resolve().parents[2]), "agent-bridge", "stdio"]
    assert json.loads(installed.text)["mcpServers"]["agent-bridge"]["args"] == ["stdio"]


@pytest.mark.parametrize(
    ("url", "mcp", "sse", "actions"),
    [
        ("http://h:1", "http://h:1/mcp", "http://h:1/sse", "http://h:1/actions/openapi.json"),
        (
            "http://h:1/agents/hr/sse",
            "http://h:1/agents/hr/mcp",
            "http://h:1/agents/hr/sse",
            "http://h:1/actions/hr/openapi.json",
        ),
        (
            "https://h/base/projects/7/mcp/",
            "https://h/base/projects/7/mcp",
            "https://h/base/projects/7/sse",
            "https://h/base/actions/openapi.json",
        ),
    ],
)
def test_a_url_names_both_transports_and_the_actions_schema(url: str, mcp: str, sse: str, actions: str) -> None:
    target = served(url)
    assert (target.mcp_url, target.sse_url, target.actions_schema_url) == (mcp, sse, actions)


def test_served_with_agent_option() -> None:
    assert served("http://h", agent="support").mcp_url == "http://h/agents/support/mcp"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["connect", "nope"], "unknown client 'nope'; the clients are claude-desktop, "),
        (["connect", "cursor", "--url", "ftp://x"], "is not an http(s) URL"),
        (["connect", "cursor", "--url", "http://h/mcp?token=x"], "leave the query out"),
        (["connect", "cursor", "--token", "x"], "--token needs --url"),
        (["connect", "n8n"], "n8n connects to a served bridge here"),
        (["connect", "codex", "--url", "http://h", "--transport", "sse"], "Streamable HTTP only"),
    ],
)
def test_connect_refuses_bad_input_in_one_line(args: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "mcp_server", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_connect_prints_the_generators_snippets_and_lists_the_clients() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "mcp_server", "connect", "--list"], capture_output=True, text=True, check=True
    )
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(CLIENTS)
    done = subprocess.run(
        [sys.executable, "-m", "mcp_server", "connect", "cursor", "--url", URL, "--token-env", "BRIDGE_TOKEN"],
        capture_output=True,
        text=True,
        check=True,
    )
    (snippet,) = snippets("cursor", served(URL, token_env="BRIDGE_TOKEN"))
    assert done.stdout == f"# {snippet.title}\n{snippet.text}\n"
