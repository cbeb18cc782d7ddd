"""Argument checks shared by the geometry, magnetization and material dataclasses."""

from __future__ import annotations

import math


def require_positive(obj, prefix: str, keys: tuple[str, ...], what: str = "a positive length in nm",
                     optional: tuple[str, ...] = ()) -> None:
    """Raise ValueError naming `prefix.key` and the value unless each attribute is finite and > 0
    (attributes in `optional` may also be None)."""
    for key in keys + optional:
        value = getattr(obj, key)
        if value is None and key in optional:
            continue
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)
                                           and value > 0):
            raise ValueError(f"{prefix}.{key} must be {what}, got {value!r}")
