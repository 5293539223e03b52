"""The sandbox's path log: `GET /_sandbox/stats` `paths` counts the raw path (and query) of every request it
received, routed or not; `DELETE /_sandbox/faults` leaves it alone and `DELETE /_sandbox/stats` empties it."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx2

from tests.support.sandbox_process import SandboxProcess


def _send_raw(sandbox: SandboxProcess, target: str) -> int:
    """One HTTP/1.1 GET of TARGET exactly as written (httpx would remove dot segments); its status."""
    url = urlsplit(sandbox.url)
    assert url.hostname is not None and url.port is not None
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {sandbox.api_key}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(request.encode("latin-1"))
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    return int(response.split(b" ", 2)[1])


def test_paths_are_logged_raw_including_unrouted_ones(sandbox: SandboxProcess) -> None:
    sandbox.reset_stats()
    assert sandbox.stats()["paths"] == {}
    with httpx2.Client(base_url=sandbox.url, headers=sandbox.headers, timeout=10) as http:
        assert http.get("/api/v1/user").status_code == 200
        assert http.get("/api/v1/user").status_code == 200
        assert http.get("/api/v1/projects/1/conversations/abc/messages?x=1").status_code == 404
        assert http.get("/no/such/route").status_code == 404
        assert http.get("/api/v1/user", headers={"Authorization": "Bearer wrong"}).status_code == 401
        http.get("/_sandbox/stats")  # the control API's own requests are not logged
        http.delete("/_sandbox/faults")
    assert _send_raw(sandbox, "/api/v1/projects/1/conversations/../../2/conversations%2e%2e%2f/messages") == 404
    paths = sandbox.stats()["paths"]
    assert paths == {
        "/api/v1/user": 3,
        "/api/v1/projects/1/conversations/abc/messages?x=1": 1,
        "/no/such/route": 1,
        "/api/v1/projects/1/conversations/../../2/conversations%2e%2e%2f/messages": 1,
    }


def test_clearing_faults_keeps_paths_and_resetting_stats_empties_them(sandbox: SandboxProcess) -> None:
    sandbox.reset_stats()
    with httpx2.Client(base_url=sandbox.url, headers=sandbox.headers, timeout=10) as http:
        assert http.get("/api/v1/projects/1/settings").status_code == 200
    sandbox.clear_faults()
    stats = sandbox.stats()
    assert stats["paths"] == {"/api/v1/projects/1/settings": 1}
    assert stats["requests"] == {"/api/v1/projects/{project_id}/settings": 1}
    sandbox.reset_stats()
    stats = sandbox.stats()
    assert stats["paths"] == {}
    assert stats["requests"] == {}
    assert stats["faults"] == {}
    assert stats["streams_started"] == stats["streams_completed"] == 0
    assert httpx2.delete(f"{sandbox.url}/_sandbox/stats").status_code == 401  # the control API needs the key
