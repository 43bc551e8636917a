"""A small TOML writer for the pipeline files a bundle generates: scalars, lists of scalars, tables and
arrays of tables (``[[model]]``). Nothing else is needed there, and anything else is refused."""

from __future__ import annotations

import json

from deploy.errors import DeployError


def _value(value, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    raise DeployError(f"cannot write {where} = {value!r} to TOML")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def dumps(data: dict) -> str:
    lines: list[str] = []
    tables: list[tuple[str, dict]] = []
    arrays: list[tuple[str, list]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value, key)}")
    for key, table in tables:
        lines += ["", f"[{_key(key)}]"] + [f"{_key(k)} = {_value(v, f'{key}.{k}')}" for k, v in table.items()]
    for key, items in arrays:
        for item in items:
            lines += ["", f"[[{_key(key)}]]"] + [f"{_key(k)} = {_value(v, f'{key}.{k}')}" for k, v in item.items()]
    return "\n".join(lines) + "\n"
