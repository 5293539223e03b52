"""The sandbox's OpenAI-compatible endpoints through the official `openai` SDK: the generic
`/v1/chat/completions` + `/v1/models` (custom GPTs as `gpt-4-gizmo-<id>`, OpenAI's error shape) and
CustomGPT's per-project compatibility layer (CustomGPT's envelope, 501 for what it does not support)."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai import OpenAI

from tests.support.sandbox_process import SandboxProcess, running_sandbox

QUESTION = "How do I restore a deleted file?"


@pytest.fixture(scope="module")
def gizmo_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Generator[SandboxProcess]:
    folder: Path = tmp_path_factory.mktemp("gizmo") / "travel"
    folder.mkdir()
    (folder / "visas.md").write_text("# Visas\n\nA tourist visa for Freedonia takes ten working days to issue.\n")
    with running_sandbox("--gizmo", f"g-Trav3l9X={folder}") as sandbox:
        yield sandbox


def _client(sandbox: SandboxProcess, base: str = "/v1", key: str | None = None) -> OpenAI:
    return OpenAI(api_key=key or sandbox.api_key, base_url=f"{sandbox.url}{base}", max_retries=0, timeout=20)


def test_models_lists_every_gizmo(gizmo_sandbox: SandboxProcess) -> None:
    with _client(gizmo_sandbox) as client:
        names = [m.id for m in client.models.list()]
    assert names == ["gpt-4-gizmo-g-demo", "gpt-4-gizmo-g-Trav3l9X"]


def test_gizmo_models_route_to_their_corpora_plain_and_streamed(gizmo_sandbox: SandboxProcess) -> None:
    with _client(gizmo_sandbox) as client:
        demo = client.chat.completions.create(
            model="gpt-4-gizmo-g-demo", messages=[{"role": "user", "content": QUESTION}]
        )
        travel = client.chat.completions.create(
            model="gpt-4-gizmo-g-Trav3l9X",
            messages=[{"role": "user", "content": "How long does a Freedonia visa take?"}],
            temperature=0.2,
        )
        stream = client.chat.completions.create(
            model="gpt-4-gizmo-g-demo", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        with stream:
            chunks = list(stream)
    answer = demo.choices[0].message.content or ""
    assert "Show deleted files" in answer
    assert demo.model == "gpt-4-gizmo-g-demo"
    assert demo.choices[0].finish_reason == "stop"
    assert "ten working days" in (travel.choices[0].message.content or "")
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == answer
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_unknown_model_is_openais_404(gizmo_sandbox: SandboxProcess) -> None:
    with _client(gizmo_sandbox) as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4-gizmo-g-nothere", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_not_found"
    body: Any = caught.value.body
    assert body["type"] == "invalid_request_error"
    assert body["param"] == "model"


def test_errors_and_faults_use_openais_shape(gizmo_sandbox: SandboxProcess) -> None:
    ask: dict[str, Any] = {"model": "gpt-4-gizmo-g-demo", "messages": [{"role": "user", "content": QUESTION}]}
    with _client(gizmo_sandbox, key="wrong-key") as client, pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(**ask)
    with _client(gizmo_sandbox) as client:
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(**ask, extra_headers={"X-Sandbox-Fault": "rate-limit"})
        with pytest.raises(openai.InternalServerError) as failed:
            client.chat.completions.create(**ask, extra_headers={"X-Sandbox-Fault": "server-error"})
        gizmo_sandbox.arm_fault("truncate", path="^/v1/chat/completions$")
        stream = client.chat.completions.create(**ask, stream=True)
        with stream:
            cut = list(stream)
    assert refused.value.code == "invalid_api_key"
    assert "wrong-key" not in str(refused.value.body)
    assert limited.value.code == "rate_limit_exceeded"
    assert limited.value.response.headers["retry-after"] == "30"
    assert isinstance(failed.value.body, dict)
    assert failed.value.body["type"] == "server_error"
    assert cut and all(c.choices[0].finish_reason is None for c in cut)  # no finish: the stream was cut


def test_customgpt_compatibility_layer_with_the_sdk(gizmo_sandbox: SandboxProcess) -> None:
    with _client(gizmo_sandbox, base="/api/v1/projects/1/") as client:
        plain = client.chat.completions.create(
            model="anything", messages=[{"role": "user", "content": QUESTION}], temperature=1.5, top_p=0.1
        )
        stream = client.chat.completions.create(
            model="anything", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        with stream:
            streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "Show deleted files" in (plain.choices[0].message.content or "")
    assert plain.model == "gpt-4-o"  # the project's model: `model` is ignored, as upstream does
    assert streamed == plain.choices[0].message.content


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("tools", [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]),
        ("tool_choice", "auto"),
        ("response_format", {"type": "json_object"}),
        ("audio", {"voice": "alloy", "format": "wav"}),
        ("modalities", ["text", "audio"]),
        ("web_search_options", {}),
    ],
)
def test_customgpt_layer_refuses_unsupported_parameters_with_501(
    gizmo_sandbox: SandboxProcess, parameter: str, value: object
) -> None:
    with _client(gizmo_sandbox, base="/api/v1/projects/1/") as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": QUESTION}], extra_body={parameter: value}
        )
    assert caught.value.status_code == 501
    response = caught.value.response.json()
    assert response["status"] == "error"  # CustomGPT's envelope, not OpenAI's {"error": ...}
    assert response["data"] == {
        "code": 501,
        "message": f"{parameter} is not yet supported. Please remove them from your request and try again.",
    }


def test_generic_endpoint_ignores_what_customgpt_refuses(gizmo_sandbox: SandboxProcess) -> None:
    response = httpx2.post(
        f"{gizmo_sandbox.url}/v1/chat/completions",
        headers=gizmo_sandbox.headers,
        json={
            "model": "gpt-4-gizmo-g-demo",
            "messages": [{"role": "user", "content": QUESTION}],
            "response_format": {"type": "text"},
        },
    )
    assert response.status_code == 200
    assert "citations" not in response.json()  # a generic OpenAI API lists none


def test_gizmo_argument_errors_name_the_form() -> None:
    with pytest.raises(RuntimeError, match="g-<letters and digits>=FOLDER"), running_sandbox("--gizmo", "nonsense"):
        pass
