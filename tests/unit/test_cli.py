"""The command line: `--log-level` before or after the subcommand."""

from __future__ import annotations

import pytest

from mcp_server.cli import build_parser


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["--log-level", "info", "check-config"], "info"),
        (["check-config", "--log-level", "debug"], "debug"),
        (["check-config"], "warning"),
    ],
)
def test_log_level_is_accepted_before_and_after_the_subcommand(argv: list[str], level: str) -> None:
    parser, runner = build_parser(argv)
    assert runner is not None
    assert parser.parse_args(argv).log_level == level
