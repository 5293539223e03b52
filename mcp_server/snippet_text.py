"""Configuration values written out as JSON, YAML, TOML or a shell command line.

The client snippets are built as plain values (dicts, lists, strings, numbers, booleans) and written
here, so each client's function states only its client's shape. YAML and TOML are written with JSON
string escapes, which both formats read as double-quoted strings; no YAML or TOML library is needed
at run time (the tests read every snippet back with real parsers).

A shell command line is a list of words; a `ShellRef` word refers to an environment variable, so
the shell expands it when the user runs the line and the secret is never printed.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(str(value))


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        lines: list[str] = []
        for key, item in cast(Mapping[str, Any], value).items():
            name = key if _BARE_KEY.match(key) else json.dumps(key)
            if isinstance(item, Mapping | list) and item:
                lines += [f"{pad}{name}:", *_yaml_lines(item, indent + 2)]
            else:
                lines.append(f"{pad}{name}: {_yaml_flow(item)}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in cast(list[Any], value):
            if isinstance(item, Mapping) and item:
                first, *rest = _yaml_lines(item, indent + 2)
                lines += [f"{pad}- {first.lstrip()}", *rest]
            else:
                lines.append(f"{pad}- {_yaml_flow(item)}")
        return lines
    return [pad + _yaml_scalar(value)]


def _yaml_flow(value: Any) -> str:
    if isinstance(value, Mapping | list):
        return "{}" if isinstance(value, Mapping) else "[]"  # only empty ones are written inline
    return _yaml_scalar(value)


def to_yaml(value: Mapping[str, Any]) -> str:
    """Block-style YAML; every string double-quoted (so `${{ … }}` and `: ` stay text)."""
    return "\n".join(_yaml_lines(value, 0))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in cast(list[Any], value)) + "]"
    if isinstance(value, Mapping):
        items = cast(Mapping[str, Any], value).items()
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in items) + " }"
    return json.dumps(str(value))


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def to_toml_table(path: Sequence[str], values: Mapping[str, Any]) -> str:
    """One TOML table, `[a.b]` then `key = value` lines (nested mappings as inline tables)."""
    lines = ["[" + ".".join(_toml_key(p) for p in path) + "]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ShellRef:
    """A shell word `PREFIX$NAME`: the shell fills in the environment variable NAME when the line runs."""

    name: str
    prefix: str = ""


ShellWord = str | ShellRef


def _double_quoted(text: str) -> str:
    return re.sub(r'([\\"$`])', r"\\\1", text)


def to_shell(words: Sequence[ShellWord]) -> str:
    """A POSIX shell command line; plain words quoted as needed, `ShellRef`s in double quotes."""
    out: list[str] = []
    for word in words:
        if isinstance(word, ShellRef):
            out.append(f'"{_double_quoted(word.prefix)}${{{word.name}}}"')
        else:
            out.append(shlex.quote(word))
    return " ".join(out)
