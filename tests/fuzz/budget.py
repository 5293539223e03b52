"""How many cases each fuzz test runs: few by default, 10,000 under `--hypothesis-profile=long`."""

from __future__ import annotations

from collections import Counter
from typing import Final

from hypothesis import HealthCheck, settings

LONG_EXAMPLES: Final = 10_000
CASES: Final[Counter[str]] = Counter()  # cases run per transport, printed at the end of the run


def count_case(transport: str) -> None:
    CASES[transport] += 1


def fuzz_settings(quick: int) -> settings:
    # Read when a test runs, not at import: the conftest imports this module before the Hypothesis
    # plugin loads `--hypothesis-profile`.
    long = settings.get_current_profile_name() == "long"
    return settings(
        max_examples=LONG_EXAMPLES if long else quick,
        deadline=None,
        database=None,
        derandomize=not long,  # the quick profile is the same run every time
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
