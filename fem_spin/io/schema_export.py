"""The schema for people and editors: the README's case-file table and a JSON Schema of case
files (`fem-spin schema > fem_spin.schema.json`), both from `fem_spin.io.schema`."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from fem_spin.io.schema import NAMED, REQUIRED, SCHEMA, STAGE_KEYS, Key


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(c) for c in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(c)}" for k, c in v.items() if c is not None) + "}"
    raise TypeError(f"cannot write {v!r} to TOML")


def reference_markdown() -> str:
    """The case-file reference table (every key, unit and default) for the docs."""
    rows = ["| key | type | unit | default | meaning |", "|---|---|---|---|---|"]
    for section, keys in [*SCHEMA.items(), ("dynamics.stages[]", STAGE_KEYS),
                          *((f"{s}.NAME", k) for s, k in NAMED.items())]:
        for name, spec in keys.items():
            default = "required" if spec.default is REQUIRED else toml_value(spec.default) \
                if spec.default is not None else "—"
            choices = f" ({' / '.join(map(str, spec.choices))})" if spec.choices else ""
            rows.append(f"| `{section}.{name}` | {spec.kind} | {spec.unit or ''} | {default} | "
                        f"{spec.doc}{choices} |")
    return "\n".join(rows) + "\n"


_JSON_TYPES = {"float": {"type": "number"}, "int": {"type": "integer"}, "str": {"type": "string"},
               "bool": {"type": "boolean"},
               "vec3": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
               "table": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
               "strlist": {"type": "array", "items": {"type": "string"}}}


def _json_property(spec: Key) -> dict[str, Any]:
    prop = {"type": "array", "items": _json_table(STAGE_KEYS)} if spec.kind == "stages" else \
        copy.deepcopy(_JSON_TYPES[spec.kind])  # its "items" are changed below
    doc = spec.doc + (f" [{spec.unit}]" if spec.unit and spec.unit != "-" else "")
    prop["description"] = doc
    if spec.choices is not None:
        if spec.kind == "strlist":
            prop["items"] = {"enum": list(spec.choices)}
        else:
            prop["enum"] = list(spec.choices)
    if spec.default is not REQUIRED and spec.default is not None:
        prop["default"] = list(spec.default) if isinstance(spec.default, tuple) else spec.default
    bounds = getattr(spec.check, "json", None)
    if bounds:  # a vector's bounds are its components'
        (prop["items"] if spec.kind == "vec3" else prop).update(bounds)
    return prop


def _json_table(keys: Mapping[str, Key]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "properties": {name: _json_property(spec) for name, spec in keys.items()},
            "required": [name for name, spec in keys.items() if spec.default is REQUIRED]}


def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of a case file, for editors that check TOML with one
    (e.g. Taplo: `#:schema ./fem_spin.schema.json` on a case file's first line)."""
    props = {name: _json_table(keys) for name, keys in SCHEMA.items()}
    for name, keys in NAMED.items():
        props[name] = {"type": "object", "additionalProperties": _json_table(keys)}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "fem_spin case file", "type": "object", "additionalProperties": False,
            "properties": props, "required": ["geometry"]}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"
