"""`agent-bridge demo` serves the Actions facade and prints what a custom GPT needs: the schema URL and
the API key; both work as printed."""

from __future__ import annotations

import re

import anyio
import anyio.to_thread
import httpx2
import pytest

from tests.demo.test_demo import _start_demo, _stop


@pytest.mark.anyio
async def test_demo_prints_a_schema_url_and_api_key_that_work() -> None:
    demo, out = await anyio.to_thread.run_sync(_start_demo)
    try:
        schema_url = re.search(r"Import from URL:\s+(http://\S+/actions/support/openapi\.json)", out)
        api_key = re.search(r"API Key:\s+(demo-\S+)", out)
        assert schema_url and api_key, out
        async with httpx2.AsyncClient(timeout=60) as http:
            document = (await http.get(schema_url.group(1))).json()
            server = document["servers"][0]["url"]
            assert document["security"] == [{"bearerAuth": []}]
            headers = {"Authorization": f"Bearer {api_key.group(1)}"}
            question = {"question": "Does the desktop agent run on macOS and Ubuntu?"}
            answer = await http.post(f"{server}/actions/support/ask", json=question, headers=headers)
        assert answer.status_code == 200 and "macOS" in answer.json()["answer"]
    finally:
        returncode = await anyio.to_thread.run_sync(_stop, demo)
    assert returncode == 0
