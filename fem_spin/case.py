"""Case files (TOML): the schema, validation with one-line errors, and defaults.

Every key carries its unit in its name (``length_nm``, ``tau_sf_s``), so a case
file reads unambiguously. `load_case` / `resolve_case` check everything that can
be checked before any mesh is built and return the case with all defaults
filled in; `dump_toml` writes that resolved case next to the results.
"""

from __future__ import annotations

import difflib
import logging
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("fem_spin")
REQUIRED = object()


class InputError(ValueError):
    """Bad input of any kind (case file, mesh file, output folder, command line): exit code 2.

    Raised on rank 0 by the checks that run before any heavy work and re-raised on every rank
    by `fem_spin.parallel.on_root`, or raised collectively (same verdict on every rank)."""


class CaseError(InputError):
    """Bad input in a case: the message names the key and the value."""


@dataclass(frozen=True)
class Key:
    kind: str  # "float", "int", "str", "bool", "vec3", "table"
    default: Any = REQUIRED
    unit: str = ""
    doc: str = ""
    choices: tuple | None = None
    check: Callable[[Any], str | None] | None = None


def positive(v) -> str | None:
    return None if v > 0 else "must be > 0"


def non_negative(v) -> str | None:
    # a0 and omega0 are both proportional to lambda: a negative exchange is the same as
    # reversing the magnetization, so it is refused rather than given a second meaning.
    return None if v >= 0 else "must be >= 0 (for lambda < 0, reverse the magnetization instead)"


def angle(v) -> str | None:
    return None if 0 <= v <= 180 else "must be an angle in [0, 180] degrees"


def at_least(n: int) -> Callable[[Any], str | None]:
    return lambda v: None if v >= n else f"must be >= {n}"


SCHEMA: dict[str, dict[str, Key]] = {
    "geometry": {
        "kind": Key("str", doc="slab (CPP stack along x) or ring (closed square loop)",
                    choices=("slab", "ring")),
        "dim": Key("int", 1, doc="dimension of the mesh", choices=(1, 2, 3)),
        "length_nm": Key("float", 100.0, "nm", "slab length L along x / ring side L", check=positive),
        "width_nm": Key("float", 4.0, "nm", "side of the square cross-section", check=positive),
        "h_interface_nm": Key("float", 0.15, "nm", "element size at the interface / ring corners",
                              check=positive),
        "h_far_nm": Key("float", 0.5, "nm", "element size away from it", check=positive),
        "refine_distance_nm": Key("float", None, "nm", "width of the zone kept at h_interface "
                                  "(default 5 h_interface)", check=positive),
        "mesh_file": Key("str", None, doc="read this .msh (from `fem-spin mesh`) instead of meshing"),
        "allow_coarse": Key("bool", False, doc="warn instead of fail when h_interface_nm cannot "
                            "resolve the shortest decay length"),
        "allow_large": Key("bool", False, doc="mesh even when the estimate exceeds 2e7 cells "
                           "(Gmsh runs on rank 0 alone)"),
    },
    "magnetization": {
        "profile": Key("str", "interface", doc="interface: the paper's spacer dip, mu = tanh(|x|/w), "
                       "direction jumps by theta at x = 0; wall: direction rotates by theta over w; "
                       "uniform: M = M0 direction", choices=("interface", "wall", "uniform")),
        "theta_deg": Key("float", 90.0, "degree", "angle between u_L and u_R (about x)", check=angle),
        "width_nm": Key("float", 0.6, "nm", "w, width of the dip or wall (the paper's lda)",
                        check=positive),
        "u_left": Key("vec3", (0.0, 0.0, 1.0), doc="u_L, direction in the left layer"),
        "dip": Key("bool", False, doc="wall profile only: also dip |M| to 0 at x = 0"),
        "direction": Key("vec3", (0.0, 0.0, 1.0), doc="uniform profile: direction of M"),
    },
    "material": {
        "D_m2_per_s": Key("float", 1e-3, "m^2/s", "diffusion constant D", check=positive),
        "tau_sf_s": Key("float", 1e-11, "s", "spin-flip time tau_sf", check=positive),
        "a0": Key("float", 100.0, "-", "tensor parameter tau lambda M0 (D_yx/D_xx)", check=non_negative),
        "omega0_per_s": Key("float", 1e13, "1/s", "precession frequency lambda M0 "
                            "(beta = omega0 tau_sf)", check=non_negative),
        "exchange_eV": Key("float", None, "eV", "alternative to omega0_per_s: exchange energy, "
                           "omega0 = E/hbar", check=non_negative),
    },
    "boundary": {
        "left_end": Key("vec3", None, doc="m at the left end (default -u_L, the paper's)"),
        "right_end": Key("vec3", None, doc="m at the right end (default +u_R, the paper's)"),
    },
    "discretization": {
        "degree": Key("int", 2, doc="Lagrange degree of m (P1 needs ~4x finer meshes for the "
                      "paper's a0 = beta = 100)", choices=(1, 2)),
        "quadrature_degree": Key("int", None, doc="default 2 degree + 1", check=positive),
    },
    "solver": {
        "preset": Key("str", "auto", doc="direct (MUMPS LU), iterative (the scalable one: GMRES + "
                      "P2/P1 two-level p-multigrid, degree 2), blr (GMRES + block-low-rank MUMPS), "
                      "shifted (FGMRES + A-scaled shifted Laplacian/GAMG, a0 beta <= 100), or auto "
                      "(direct up to 5e4 DOFs, then iterative; with degree 1 direct up to 1.5e5 "
                      "DOFs, then shifted or blr by a0 beta)",
                      choices=("auto", "direct", "iterative", "blr", "shifted")),
        "petsc_options": Key("table", {}, doc="PETSc options on top of the preset, "
                             "e.g. {ksp_monitor = \"\"}"),
    },
    "output": {
        "folder": Key("str", "results", doc="result folder (overridden by --output)"),
        "profile_points": Key("int", 1001, doc="points of the CSV line profile", check=at_least(2)),
        "paraview": Key("bool", True, doc="write VTX (.bp) and VTK (.pvd) files"),
        "png": Key("bool", True, doc="write PNG pictures"),
    },
}


def _fail(section: str, key: str, value: Any, why: str) -> CaseError:
    return CaseError(f"[{section}] {key} = {value!r}: {why}")


def _convert(section: str, key: str, spec: Key, value: Any) -> Any:
    """Check the type (and choices/ranges) of one value; return it normalised."""
    if spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(section, key, value, "must be a number")
        value = float(value)
        if not math.isfinite(value):
            raise _fail(section, key, value, "must be finite")
    elif spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(section, key, value, "must be an integer")
    elif spec.kind == "str":
        if not isinstance(value, str):
            raise _fail(section, key, value, "must be a string")
    elif spec.kind == "bool":
        if not isinstance(value, bool):
            raise _fail(section, key, value, "must be true or false")
    elif spec.kind == "vec3":
        if (not isinstance(value, (list, tuple)) or len(value) != 3
                or any(isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c)
                       for c in value)):
            raise _fail(section, key, value, "must be a list of 3 finite numbers")
        value = [float(c) for c in value]
    elif spec.kind == "table":
        if not isinstance(value, Mapping):
            raise _fail(section, key, value, "must be a table")
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                raise _fail(section, f"{key}.{k}", v, "PETSc option values must be scalars")
        value = {str(k): (v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v)
                 for k, v in value.items()}
    if spec.choices is not None and value not in spec.choices:
        raise _fail(section, key, value, f"must be one of {', '.join(map(repr, spec.choices))}")
    if spec.check is not None:
        why = spec.check(value)
        if why:
            raise _fail(section, key, value, why)
    return value


def _unknown(name: str, known, where: str) -> CaseError:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
    return CaseError(f"unknown key {where}{name!r}{hint}")


def resolve_case(raw: Mapping[str, Any], base_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Validate a parsed case and fill in defaults. Raises CaseError.

    A relative `geometry.mesh_file` is taken relative to `base_dir` (the case
    file's folder) and stored absolute, so the saved case runs from anywhere.
    """
    if not isinstance(raw, Mapping):
        raise CaseError(f"a case must be a table of sections, got {type(raw).__name__}")
    case: dict[str, dict[str, Any]] = {}
    for section in raw:
        if section not in SCHEMA:
            raise _unknown(section, SCHEMA, "section ")
        if not isinstance(raw[section], Mapping):
            raise _fail(section, "(section)", raw[section], "must be a table [section]")
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        for key in given:
            if key not in keys:
                raise _unknown(key, keys, f"[{section}] ")
        out = {}
        for key, spec in keys.items():
            if key in given:
                out[key] = _convert(section, key, spec, given[key])
            elif spec.default is REQUIRED:
                raise CaseError(f"[{section}] {key} is missing ({spec.doc})")
            else:
                out[key] = spec.default if not isinstance(spec.default, tuple) else list(spec.default)
        case[section] = out
    mesh_file = case["geometry"]["mesh_file"]
    if mesh_file is not None and base_dir is not None:
        case["geometry"]["mesh_file"] = str((Path(base_dir) / mesh_file).resolve())
    _cross_checks(case, raw)
    return case


def _cross_checks(case: dict, raw: Mapping) -> None:
    mat = case["material"]
    if mat["exchange_eV"] is not None and "omega0_per_s" in raw.get("material", {}):
        raise CaseError("[material] give either omega0_per_s or exchange_eV, not both")
    mag, given = case["magnetization"], raw.get("magnetization", {})
    for key in ("u_left", "direction"):
        if all(c == 0 for c in mag[key]):
            raise _fail("magnetization", key, mag[key], "must be a non-zero vector")
        norm = math.sqrt(sum(c * c for c in mag[key]))
        if key in given and abs(norm - 1) > 1e-9:
            logger.warning("warning: [magnetization] %s = %r has length %.6g: used as the unit "
                           "vector %s", key, mag[key], norm, [round(c / norm, 6) for c in mag[key]])
    geo = case["geometry"]
    # Settings that would otherwise be ignored without notice are refused.
    if mag["dip"] and mag["profile"] != "wall":
        raise _fail("magnetization", "dip", True, f"applies to profile = 'wall' only (profile = "
                    f"{mag['profile']!r}; the 'interface' profile always dips)")
    if geo["kind"] == "ring":
        if mag["profile"] == "wall":
            raise _fail("magnetization", "profile", "wall", "is defined for the slab only; a ring "
                        "takes 'interface' (the paper's Fig. 12 profile) or 'uniform'")
        unused = [k for k in ("theta_deg", "u_left") if k in given]
        if unused:
            raise _fail("magnetization", unused[0], given[unused[0]], "does not apply to a ring: "
                        "its 'interface' profile is the paper's Fig. 12 (M normal to the current, "
                        "turned 90 degrees per side); remove the key")
    if geo["kind"] == "ring" and geo["dim"] == 1:
        raise _fail("geometry", "dim", 1, "a ring needs dim = 2 or 3")
    if geo["kind"] == "ring" and any(v is not None for v in case["boundary"].values()):
        raise CaseError("[boundary] a ring is closed: it has no ends to fix")
    if case["solver"]["preset"] == "iterative" and case["discretization"]["degree"] < 2:
        raise _fail("solver", "preset", "iterative",
                    "the p-multigrid needs discretization.degree = 2 (it coarsens P2 to P1); with "
                    "degree = 1 use 'blr' (any a0, beta) or 'shifted' (a0 beta <= 100)")
    if geo["h_interface_nm"] > geo["h_far_nm"]:
        raise _fail("geometry", "h_interface_nm", geo["h_interface_nm"],
                    f"must not exceed h_far_nm = {geo['h_far_nm']!r}")
    if geo["mesh_file"] is not None and not Path(geo["mesh_file"]).is_file():
        raise _fail("geometry", "mesh_file", geo["mesh_file"], "file does not exist")


def load_case(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read and resolve a TOML case file. Raises CaseError."""
    return resolve_case(read_raw(path), Path(path).parent)


def read_raw(path: str | Path) -> dict[str, Any]:
    """Parse a TOML case file without resolving it (for sweeps). Raises CaseError."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CaseError(f"case file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"case file {str(path)!r} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"case file {str(path)!r} is not valid TOML: {exc}") from None


def set_value(case_raw: dict, dotted: str, text: str) -> None:
    """Set `section.key` from a command-line string (parsed as a TOML value)."""
    if "." not in dotted:
        raise CaseError(f"parameter {dotted!r} must be written section.key, e.g. magnetization.theta_deg")
    section, key = dotted.split(".", 1)
    if section not in SCHEMA:
        raise _unknown(section, SCHEMA, "section ")
    if key not in SCHEMA[section]:
        raise _unknown(key, SCHEMA[section], f"[{section}] ")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word: a string
    case_raw.setdefault(section, {})[key] = value


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(c) for c in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_value(c)}" for k, c in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} to TOML")


def dump_toml(case: Mapping[str, Mapping[str, Any]], header: str = "") -> str:
    """TOML text of a resolved case (None values are left out: they mean 'default')."""
    lines = [f"# {line}" for line in header.splitlines()]
    for section, keys in case.items():
        lines.append(f"\n[{section}]")
        for key, value in keys.items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """The case-file reference table (every key, unit and default) for the docs."""
    rows = ["| key | type | unit | default | meaning |", "|---|---|---|---|---|"]
    for section, keys in SCHEMA.items():
        for key, spec in keys.items():
            default = "required" if spec.default is REQUIRED else _toml_value(spec.default) \
                if spec.default is not None else "—"
            choices = f" ({' / '.join(map(str, spec.choices))})" if spec.choices else ""
            rows.append(f"| `{section}.{key}` | {spec.kind} | {spec.unit or ''} | {default} | "
                        f"{spec.doc}{choices} |")
    return "\n".join(rows) + "\n"
