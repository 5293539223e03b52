"""The sandbox upstream as a real child process, with its control API for faults and stats."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2

from mcp_server import launch


@dataclass(frozen=True, slots=True)
class SandboxProcess:
    url: str
    api_key: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def arm_fault(self, kind: str, count: int = 1, path: str | None = None, **extra: float) -> None:
        body: dict[str, Any] = {"kind": kind, "count": count, "path": path, **extra}
        response = httpx2.post(f"{self.url}/_sandbox/faults", json=body, headers=self.headers)
        response.raise_for_status()

    def clear_faults(self) -> None:
        httpx2.delete(f"{self.url}/_sandbox/faults", headers=self.headers).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = httpx2.get(f"{self.url}/_sandbox/stats", headers=self.headers)
        response.raise_for_status()
        return response.json()


@contextmanager
def running_sandbox(*extra_args: str, api_key: str = "sandbox-key") -> Generator[SandboxProcess]:
    args = ["sandbox", "--port", "0", "--api-key", api_key, *extra_args]
    with launch.running(args, quiet=True) as child:
        yield SandboxProcess(url=child.url, api_key=api_key)
