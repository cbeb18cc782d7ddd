"""The typed case: what every part of the package downstream of the case file reads.

`fem_spin.io.case.resolve_case` checks a case file and returns it as a table with every
default filled in (what case.toml records and a sweep changes); `Case.from_dict` (or
`as_case`) turns that table into frozen section objects of `fem_spin.io.schema`, with the
geometry's kind as its type (SlabSection, RingSection, DeviceSection).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fem_spin.io.schema import (GEOMETRY_KINDS, NAMED_SECTIONS, SECTIONS, BoundarySection, CurrentSection,
                                DiscretizationSection, DynamicsSection, EndsSection, FieldSection,
                                GeometrySection, MagnetizationSection, MaterialSection, OutputSection,
                                RegionSection, SolverSection, StageSection, keys_of)


def _typed(cls: type, values: Mapping[str, Any]) -> Any:
    """A section object from its resolved table: vectors and lists become tuples."""
    conv = {}
    for name, spec in keys_of(cls).items():
        v = values[name]
        if spec.kind in ("vec3", "strlist") and v is not None:
            v = tuple(v)
        elif spec.kind == "table":
            v = dict(v)
        elif spec.kind == "stages":
            v = tuple(_typed(StageSection, st) for st in v)
        conv[name] = v
    return cls(**conv)


def _plain(obj: Any) -> dict[str, Any]:
    """The resolved table of a section object (the inverse of `_typed`)."""
    out = {}
    for name, spec in keys_of(type(obj)).items():
        v = getattr(obj, name)
        if spec.kind in ("vec3", "strlist") and v is not None:
            v = list(v)
        elif spec.kind == "table":
            v = dict(v)
        elif spec.kind == "stages":
            v = [_plain(st) for st in v]
        out[name] = v
    return out


@dataclass(frozen=True, kw_only=True)
class Case:
    """A resolved case, typed: what every part of the package downstream of the case file
    reads. Build it with `Case.from_dict` from `fem_spin.io.case.resolve_case`'s table (or
    `fem_spin.io.case.load_case` + `as_case`); `to_dict` gives that table back (case.toml)."""

    geometry: GeometrySection
    magnetization: MagnetizationSection
    material: MaterialSection
    field: FieldSection
    current: CurrentSection
    dynamics: DynamicsSection
    boundary: EndsSection
    discretization: DiscretizationSection
    solver: SolverSection
    output: OutputSection
    regions: dict[str, RegionSection] = dataclasses.field(default_factory=dict)
    boundaries: dict[str, BoundarySection] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Mapping[str, Any]]) -> Case:
        kw: dict[str, Any] = {name: _typed(sec, d[name]) for name, sec in SECTIONS.items()}
        kw["geometry"] = _typed(GEOMETRY_KINDS[d["geometry"]["kind"]], d["geometry"])
        for name, sec in NAMED_SECTIONS.items():
            kw[name] = {n: _typed(sec, t) for n, t in d.get(name, {}).items()}
        return cls(**kw)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {name: _plain(getattr(self, name)) for name in SECTIONS}
        for name in NAMED_SECTIONS:
            out[name] = {n: _plain(t) for n, t in getattr(self, name).items()}
        return out

    def replace(self, section: str, **changes: Any) -> Case:
        """A copy with some keys of one section changed."""
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})

    @property
    def dynamic(self) -> bool:
        return bool(self.dynamics.t_end_s)

    @property
    def driven(self) -> bool:
        return self.current.drive != "none"

    def magnet_names(self) -> list[str]:
        """The device's magnets (regions with a magnetization)."""
        return [n for n, r in self.regions.items() if r.magnet]


def as_case(case: Case | Mapping) -> Case:
    """A typed case from either form (the package's functions take both)."""
    return case if isinstance(case, Case) else Case.from_dict(case)


def takes_case(fn: Callable) -> Callable:
    """Let a function whose first argument is a Case also take a resolved table."""
    @functools.wraps(fn)
    def wrapper(case, *args, **kwargs):
        return fn(as_case(case), *args, **kwargs)
    return wrapper
