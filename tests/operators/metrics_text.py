"""Reading a bridge's /metrics in tests: the samples of one family, filtered by labels."""

from __future__ import annotations

import hashlib

import httpx2
from prometheus_client.parser import text_string_to_metric_families

SCRAPER_TOKEN = "tok-scraper-52e1aa"


def scraper_token_table() -> list[str]:
    """A `[[tokens]]` entry for metrics only: no agents, scopes = ["metrics"]."""
    digest = hashlib.sha256(SCRAPER_TOKEN.encode()).hexdigest()
    return ["[[tokens]]", 'name = "scraper"', f'sha256 = "{digest}"', "agents = []", 'scopes = ["metrics"]']


def scrape(url: str, headers: dict[str, str] | None = None) -> str:
    response = httpx2.get(url, headers=headers or {}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def value(text: str, sample_name: str, **labels: str) -> float:
    """The sum of the samples called `sample_name` whose labels include `labels` (0 when there are none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
