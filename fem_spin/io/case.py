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
    kind: str  # "float", "int", "str", "bool", "vec3", "table", "strlist"
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


def positive_components(v) -> str | None:
    return None if all(c > 0 for c in v) else "every component must be > 0"


def at_least(n: int) -> Callable[[Any], str | None]:
    return lambda v: None if v >= n else f"must be >= {n}"


SCHEMA: dict[str, dict[str, Key]] = {
    "geometry": {
        "kind": Key("str", doc="slab (CPP stack along x), ring (closed square loop) or gmsh "
                    "(your device: geometry.file with named regions and boundaries)",
                    choices=("slab", "ring", "gmsh")),
        "dim": Key("int", 1, doc="dimension of the mesh (gmsh: taken from the file)", choices=(1, 2, 3)),
        "file": Key("str", None, doc="gmsh: a Gmsh .geo script (meshed on rank 0) or .msh file with "
                    "physical groups naming the regions (cells) and boundaries (facets)"),
        "unit_nm": Key("float", 1.0, "nm", "gmsh: the file's length unit in nm (1e9 for metres)",
                       check=positive),
        "parameters": Key("table", {}, doc="gmsh: numbers set in the .geo script before it is read "
                          "(its DefineConstant values), e.g. {L = 50}"),
        "length_nm": Key("float", 100.0, "nm", "slab length L along x / ring side L", check=positive),
        "width_nm": Key("float", 4.0, "nm", "side of the square cross-section", check=positive),
        "h_interface_nm": Key("float", 0.15, "nm", "element size at the interface / ring corners",
                              check=positive),
        "h_far_nm": Key("float", 0.5, "nm", "element size away from it", check=positive),
        "refine_distance_nm": Key("float", None, "nm", "width of the zone kept at h_interface "
                                  "(default 5 h_interface)", check=positive),
        "mesh_file": Key("str", None, doc="read this mesh from `fem-spin mesh` instead of meshing: "
                         ".msh (Gmsh, read on rank 0) or .xdmf (with its .h5 and .names.json, "
                         "read in parallel)"),
        "allow_coarse": Key("bool", False, doc="warn instead of fail when h_interface_nm cannot "
                            "resolve the shortest decay length"),
        "allow_large": Key("bool", False, doc="run even when the estimated peak memory (from the "
                           "estimated cells, DOFs and solver) exceeds this node's memory"),
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
        "D_components_m2_per_s": Key("vec3", None, "m^2/s", "component-wise D^k in the lab frame "
                                     "(Eq. 72, Dt^kp = D^p (A^-1)^kp); default isotropic D",
                                     check=positive_components),
        "P": Key("float", None, "-", "current polarization (charge-current drive; required for "
                 "magnets then, 0 in normal metals)", check=lambda v: None if -1 <= v <= 1 else
                 "must be in [-1, 1]"),
        "sigma_S_per_m": Key("float", None, "S/m", "conductivity (current.drive = 'solved')",
                             check=positive),
        "Ms_A_per_m": Key("float", None, "A/m", "saturation magnetization (the equivalent field "
                          "B_sd = -omega0 m/(gamma Ms) in tesla; needed by [dynamics])", check=positive),
        "A_ex_J_per_m": Key("float", None, "J/m", "[dynamics]: exchange stiffness (default 0)",
                            check=non_negative),
        "K_u_J_per_m3": Key("float", None, "J/m^3", "[dynamics]: uniaxial anisotropy along K_axis "
                            "(default 0)"),
        "K_axis": Key("vec3", (0.0, 0.0, 1.0), doc="[dynamics]: the anisotropy axis e_K"),
        "alpha_G": Key("float", None, "-", "[dynamics]: Gilbert damping", check=non_negative),
        "tau_components_s": Key("vec3", None, "s", "component-wise tau_k (Eqs. 66, 73: relaxation "
                                "-(m^k - m_eq^k)/tau_k, A = I + diag(tau_k/tau_sf)[alpha]x)",
                                check=positive_components),
    },
    "field": {
        "B_T": Key("vec3", (0.0, 0.0, 0.0), "T", "applied field B: precession -gamma B and tensor "
                   "alpha = a0 mu u - (a0/omega0) gamma B (MODEL.md); per region: regions.NAME.B_T"),
    },
    "current": {
        "drive": Key("str", "none", doc="none: the paper's normalised accumulation (fixed m at the "
                     "ends); uniform: a given charge current density j_A_per_m2; solved: the "
                     "potential div(sigma grad V) = 0 with contacts (boundaries.NAME.potential_V / "
                     "current_A). With a drive m is in A/m and J in A/s",
                     choices=("none", "uniform", "solved")),
        "j_A_per_m2": Key("vec3", None, "A/m^2", "drive uniform: the charge (conventional) current "
                          "density j_e; electrons flow the other way"),
    },
    "dynamics": {
        "t_end_s": Key("float", None, "s", "simulate the magnetization's LLG equation (Eq. 79) coupled "
                       "to the accumulation up to this time (default: a steady solve only)",
                       check=positive),
        "dt_s": Key("float", None, "s", "time step (t_end_s a whole number of them); with tolerance "
                    "the first step", check=positive),
        "tolerance": Key("float", None, "-", "adaptive steps: the largest change of u per step "
                         "allowed to the step-doubling error estimate (e.g. 1e-3); steps grow and "
                         "shrink (rejected steps are retried and logged)", check=positive),
        "electrons": Key("str", "quasi-static", doc="quasi-static: a steady solve for m per step "
                         "(tau_sf far below the moments' time scales); transient: one backward-Euler "
                         "step of the electron equation per step, from m = 0 (fixed steps only)",
                         choices=("quasi-static", "transient")),
        "checkpoint_every": Key("int", 100, doc="write a checkpoint every this many steps (and on "
                                "SIGTERM); running the same command again goes on from it (0: only "
                                "on SIGTERM)", check=lambda v: None if v >= 0 else "must be >= 0"),
        "theta": Key("float", 1.0, "-", "implicitness of the exchange term, 0.5 .. 1 (1: "
                     "unconditionally stable)", check=lambda v: None if 0.5 <= v <= 1 else
                     "must be in [0.5, 1]"),
        "output_every": Key("int", 10, doc="write the time series (u_t, m_t) every this many steps "
                            "(dynamics.csv has a row for every step)",
                            check=at_least(1)),
        "rho": Key("float", 1.0, "-", "accumulation scale s0/Ms of the normalised mode: B_sd = "
                   "-(omega0 rho/gamma) m (with a current drive m is in A/m and B_sd = "
                   "-omega0 m/(gamma Ms))", check=non_negative),
    },
    "boundary": {
        "left_end": Key("vec3", None, doc="m at the left end (default -u_L, the paper's)"),
        "right_end": Key("vec3", None, doc="m at the right end (default +u_R, the paper's)"),
    },
    "discretization": {
        "degree": Key("int", 2, doc="Lagrange degree of m (P1 needs ~4x finer meshes for the "
                      "paper's a0 = beta = 100)", choices=(1, 2)),
        "quadrature_degree": Key("int", None, doc="of every term (default: 2 degree + 1 for the "
                                 "reaction, source and mass terms, 2 degree - 1, at least 2, for "
                                 "the diffusion term)", check=positive),
    },
    "solver": {
        "preset": Key("str", "auto", doc="direct (MUMPS LU), iterative (the scalable one: GMRES + "
                      "P2/P1 two-level p-multigrid, degree 2), blr (GMRES + block-low-rank MUMPS), "
                      "shifted (FGMRES + A-scaled shifted Laplacian/GAMG, a0 beta <= 100), or auto "
                      "(direct up to 5e4 DOFs, or 3e5 on meshes coarser than 1/|k|, then "
                      "iterative; with degree 1 direct up to 1.5e5 DOFs, then shifted or blr by "
                      "a0 beta)",
                      choices=("auto", "direct", "iterative", "blr", "shifted")),
        "initial_guess": Key("str", None, doc="start the solve from a checkpoint: a result folder "
                             "written with output.checkpoint = true (or its checkpoint/ folder) of "
                             "the same mesh (e.g. a neighbouring case of a sweep)"),
        "petsc_options": Key("table", {}, doc="PETSc options on top of the preset, "
                             "e.g. {ksp_monitor = \"\"}"),
    },
    "output": {
        "folder": Key("str", "results", doc="result folder (overridden by --output)"),
        "profile_points": Key("int", 1001, doc="points of the CSV line profile", check=at_least(2)),
        "paraview": Key("bool", True, doc="write ParaView files: fields.pvd (binary compressed VTK "
                        "XML, one .vtu per rank; every ParaView opens it)"),
        "fields": Key("strlist", ["m", "M", "T", "abs_m", "J", "B_sd"], doc="what fields.pvd holds "
                      "(m always; B_sd only with a drive); J is the 3x3 spin current averaged to "
                      "the nodes, components Jxx, Jxy, ... = J[spin, space]",
                      choices=("m", "M", "T", "abs_m", "J", "B_sd")),
        "precision": Key("str", "double", doc="of the fields in the ParaView files (single: half "
                         "the bytes, 7 digits)", choices=("double", "single")),
        "checkpoint": Key("bool", False, doc="also write checkpoint/ (m, partition-independent, "
                          "exact): solver.initial_guess of a later run reads it on any number of "
                          "ranks"),
        "vtx": Key("bool", False, doc="also write ADIOS2 VTX (.bp) files (ParaView builds with "
                   "ADIOS2, e.g. Kitware's binaries; large parallel runs)"),
        "line_from_nm": Key("vec3", None, "nm", "gmsh: start of the profile line (default: the mesh's "
                            "longest bounding-box axis through its centre)"),
        "line_to_nm": Key("vec3", None, "nm", "gmsh: end of the profile line"),
        "png": Key("bool", True, doc="write PNG pictures"),
    },
}


def _inherit(section: str, doc_prefix: str) -> dict[str, Key]:
    """A section's keys with default None: 'take the value of [section]'."""
    return {k: Key(spec.kind, None, spec.unit, f"{doc_prefix}{spec.doc}", spec.choices, spec.check)
            for k, spec in SCHEMA[section].items()}


MATERIAL_PRESETS = ("paper",)
# Sections of named tables: [regions.NAME] per cell group, [boundaries.NAME] per facet group
# (geometry.kind = "gmsh"). A region key left out takes the [material] / [magnetization] /
# [field] value, so one line per region is often enough.
NAMED: dict[str, dict[str, Key]] = {
    "regions": {
        "magnet": Key("bool", True, doc="false for a normal metal or spacer (mu = 0: isotropic D, no "
                      "exchange precession)"),
        "preset": Key("str", None, doc="material preset instead of [material]: paper (l_sf = 100 nm, "
                      "a0 = beta = 100)", choices=MATERIAL_PRESETS),
        **_inherit("material", "(default [material]) "),
        **_inherit("magnetization", "(default [magnetization]) "),
        "profile": Key("str", None, doc="(default [magnetization]) interface / wall / uniform as in "
                       "[magnetization], ovf (an OOMMF/mumax3 file) or vtk (a point or cell field of a "
                       ".vtu/.vtk file) or ring (the paper's Fig. 12 profile of a square ring of side "
                       "ring_side_nm)", choices=("interface", "wall", "uniform", "ovf", "vtk", "ring")),
        "ring_side_nm": Key("float", None, "nm", "profile ring: centreline side L of the square ring",
                            check=positive),
        "file": Key("str", None, doc="profile ovf/vtk: the file (relative to the case file)"),
        "offset_nm": Key("vec3", (0.0, 0.0, 0.0), "nm", "profile ovf/vtk: where the file's origin "
                         "lies on the mesh"),
        "file_unit_nm": Key("float", None, "nm", "profile ovf/vtk: the file's length unit in nm "
                            "(default: the OVF meshunit; 1 for vtk)", check=positive),
        "outside": Key("str", "error", doc="profile ovf/vtk: mesh points outside the file's grid: "
                       "error, zero (no magnet there) or nearest", choices=("error", "zero", "nearest")),
        "field": Key("str", None, doc="profile vtk: name of the 3-vector array (default: the only one)"),
        "B_T": Key("vec3", None, "T", "(default [field]) applied field in this region"),
        "m_eq": Key("str", "zero", doc="equilibrium accumulation: zero, or magnetization (m_eq = M/M0, "
                    "as in the paper's ring)", choices=("zero", "magnetization")),
        "dynamic": Key("bool", True, doc="[dynamics]: false holds this magnet's direction fixed "
                       "(a reference layer)"),
    },
    "boundaries": {
        "type": Key("str", "free", doc="fixed (a reservoir: m = boundaries.NAME.m), current (given "
                    "outward normal spin current J_m_per_s) or free (zero spin current)",
                    choices=("fixed", "current", "free")),
        "m": Key("vec3", None, doc="type fixed: the accumulation held there"),
        "J_m_per_s": Key("vec3", None, "m/s", "type current: J.n, the outward normal spin current "
                         "(3 spin components, per unit m; A/s with a charge-current drive)"),
        "potential_V": Key("float", None, "V", "current.drive solved: an electric contact at this "
                           "potential (default spin condition there: a reservoir, m = 0)"),
        "current_A": Key("float", None, "A", "current.drive solved: an equipotential contact "
                         "carrying this total current into the device (3D)"),
    },
}
# Keys that describe the built-in geometries and mean nothing for a mesh file.
BUILTIN_GEOMETRY_KEYS = ("length_nm", "width_nm", "h_interface_nm", "h_far_nm", "refine_distance_nm",
                         "mesh_file", "allow_coarse", "allow_large")
GMSH_GEOMETRY_KEYS = ("file", "unit_nm", "parameters")


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
    elif spec.kind == "strlist":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise _fail(section, key, value, "must be a list of strings")
        if spec.choices is not None:
            bad = [v for v in value if v not in spec.choices]
            if bad:
                known = ", ".join(map(repr, spec.choices))
                raise _fail(section, key, value, f"{bad[0]!r} is not one of {known}")
        return list(value)
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
        if section not in SCHEMA and section not in NAMED:
            raise _unknown(section, [*SCHEMA, *NAMED], "section ")
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
                out[key] = _default(spec)
        case[section] = out
    for section, keys in NAMED.items():
        case[section] = {}
        for name, table in raw.get(section, {}).items():
            where = f"{section}.{name}"
            if not isinstance(table, Mapping):
                raise _fail(section, name, table, f"must be a table [{where}]")
            for key in table:
                if key not in keys:
                    raise _unknown(key, keys, f"[{where}] ")
            case[section][name] = {key: _convert(where, key, spec, table[key]) if key in table
                                   else _default(spec) for key, spec in keys.items()}
    if base_dir is not None:  # relative files are the case file's neighbours; stored absolute
        geo = case["geometry"]
        for key in ("mesh_file", "file"):
            if geo[key] is not None:
                geo[key] = str((Path(base_dir) / geo[key]).resolve())
        for region in case["regions"].values():
            if region["file"] is not None:
                region["file"] = str((Path(base_dir) / region["file"]).resolve())
        if case["solver"]["initial_guess"] is not None:
            case["solver"]["initial_guess"] = str((Path(base_dir) / case["solver"]["initial_guess"]).resolve())
    _cross_checks(case, raw)
    _resolve_regions(case, raw)
    return case


def _check_dynamics(case: dict) -> None:
    """[dynamics] needs a step, Ms and alpha_G for every magnet, and one uniform field."""
    dyn = case["dynamics"]
    if dyn["t_end_s"] is None:
        if dyn["dt_s"] is not None:
            raise CaseError("[dynamics] dt_s needs t_end_s (the end of the simulated time)")
        return
    if dyn["dt_s"] is None:
        raise CaseError("[dynamics] t_end_s needs dt_s (the time step)")
    steps = dyn["t_end_s"] / dyn["dt_s"]
    if dyn["tolerance"] is None and (abs(steps - round(steps)) > 1e-9 * steps or round(steps) < 1):
        raise _fail("dynamics", "dt_s", dyn["dt_s"], f"t_end_s = {dyn['t_end_s']!r} must be a whole "
                    "number of steps")
    if dyn["electrons"] == "transient" and dyn["tolerance"] is not None:
        raise _fail("dynamics", "electrons", "transient", "takes fixed steps: leave out tolerance")
    tables = {f"regions.{n}": r for n, r in case["regions"].items() if r["magnet"]} or \
        {"material": case["material"]}
    for where, spec in tables.items():
        for key in ("Ms_A_per_m", "alpha_G"):
            if spec[key] is None:
                raise CaseError(f"[{where}] {key} is missing: [dynamics] needs it for every magnet")
        if case["regions"] and spec.get("B_T") != case["field"]["B_T"]:
            raise _fail(where, "B_T", spec.get("B_T"), "[dynamics] takes one uniform field: set "
                        "[field] B_T only")


def _default(spec: Key) -> Any:
    return list(spec.default) if isinstance(spec.default, tuple) else \
        dict(spec.default) if isinstance(spec.default, dict) else spec.default


def _resolve_regions(case: dict, raw: Mapping) -> None:
    """Fill each region's left-out keys from [material] (or its preset), [magnetization] and
    [field], and check what only makes sense together; the saved case.toml then lists every
    region's values in full."""
    for name, region in case["regions"].items():
        where = f"regions.{name}"
        given = raw["regions"][name]
        if region["preset"] == "paper":
            base = {**case["material"], "D_m2_per_s": 1e-3, "tau_sf_s": 1e-11, "a0": 100.0,
                    "omega0_per_s": 1e13, "exchange_eV": None}
        else:
            base = case["material"]
        if "exchange_eV" in given and "omega0_per_s" in given:
            raise CaseError(f"[{where}] give either omega0_per_s or exchange_eV, not both")
        for key in SCHEMA["material"]:
            if region[key] is None:
                region[key] = None if key == "exchange_eV" and "omega0_per_s" in given else base[key]
        if region["B_T"] is None:
            region["B_T"] = list(case["field"]["B_T"])
        mag_keys = [*SCHEMA["magnetization"], "file", "field"]
        if not region["magnet"]:
            stray = [k for k in mag_keys if k in given]
            if stray:
                raise _fail(where, stray[0], given[stray[0]], "a region with magnet = false has no "
                            "magnetization; remove the key")
            for key in SCHEMA["magnetization"]:
                region[key] = None
            continue
        for key in SCHEMA["magnetization"]:
            if region[key] is None:
                region[key] = case["magnetization"][key]
        if region["profile"] in ("ovf", "vtk"):
            if region["file"] is None:
                raise _fail(where, "profile", region["profile"], "needs file = \"...\"")
            if not Path(region["file"]).is_file():
                raise _fail(where, "file", region["file"], "file does not exist")
        elif region["profile"] == "ring" and region["ring_side_nm"] is None:
            raise _fail(where, "profile", "ring", "needs ring_side_nm = L (the ring's side)")
        elif region["file"] is not None:
            raise _fail(where, "file", region["file"], f"applies to profile = 'ovf' or 'vtk', not "
                        f"{region['profile']!r}")
        if region["dip"] and region["profile"] != "wall":
            raise _fail(where, "dip", True, "applies to profile = 'wall' only")
    drive = case["current"]["drive"]
    if drive == "uniform" and case["current"]["j_A_per_m2"] is None:
        raise CaseError("[current] drive = 'uniform' needs j_A_per_m2 = [x, y, z]")
    if drive != "uniform" and case["current"]["j_A_per_m2"] is not None:
        raise _fail("current", "j_A_per_m2", case["current"]["j_A_per_m2"], f"applies to drive = "
                    f"'uniform', not {drive!r}")
    if drive != "none" and case["geometry"]["kind"] != "gmsh":
        raise _fail("current", "drive", drive, "needs geometry.kind = 'gmsh' (regions with their "
                    "polarization; meshes/slab.geo is the paper's slab as such a device)")
    for name, region in case["regions"].items():
        where = f"regions.{name}"
        if not region["magnet"]:
            if raw["regions"][name].get("P"):
                raise _fail(where, "P", region["P"], "a normal metal (magnet = false) has P = 0")
            region["P"] = 0.0
        elif drive != "none" and region["P"] is None:
            raise CaseError(f"[{where}] P is missing: a magnet needs its current polarization "
                            "with current.drive = " + repr(drive))
        if drive == "solved" and region["sigma_S_per_m"] is None:
            raise CaseError(f"[{where}] sigma_S_per_m is missing: current.drive = 'solved' needs "
                            "every region's conductivity")
    contacts = [n for n, b in case["boundaries"].items()
                if b["potential_V"] is not None or b["current_A"] is not None]
    if drive == "solved" and not any(case["boundaries"][n]["potential_V"] is not None for n in contacts):
        raise CaseError("[current] drive = 'solved' needs a contact at a fixed potential: "
                        "[boundaries.NAME] potential_V = 0.0 (a ground)")
    for name in contacts:
        bnd, given_b = case["boundaries"][name], raw["boundaries"][name]
        if drive != "solved":
            raise CaseError(f"[boundaries.{name}] potential_V/current_A need current.drive = 'solved'")
        if bnd["potential_V"] is not None and bnd["current_A"] is not None:
            raise CaseError(f"[boundaries.{name}] give potential_V or current_A, not both")
        if "type" not in given_b:  # a contact is a reservoir unless told otherwise
            bnd["type"], bnd["m"] = "fixed", [0.0, 0.0, 0.0]
    _check_dynamics(case)
    for name, bnd in case["boundaries"].items():
        where = f"boundaries.{name}"
        need = {"fixed": "m", "current": "J_m_per_s", "free": None}[bnd["type"]]
        for key in ("m", "J_m_per_s"):
            if key == need and bnd[key] is None:
                raise CaseError(f"[{where}] type = {bnd['type']!r} needs {key} = [x, y, z]")
            if key != need and bnd[key] is not None:
                raise _fail(where, key, bnd[key], f"does not apply to type = {bnd['type']!r}")


def _changed(values: dict, given: Mapping, keys: tuple[str, ...]) -> list[str]:
    """Keys given with a value other than the default (a saved case.toml lists every default)."""
    return [k for k in keys if k in given and values[k] != _default(SCHEMA["geometry"][k])]


def _cross_checks(case: dict, raw: Mapping) -> None:
    mat = case["material"]
    if mat["exchange_eV"] is not None and "omega0_per_s" in raw.get("material", {}):
        raise CaseError("[material] give either omega0_per_s or exchange_eV, not both")
    out = case["output"]
    if (out["line_from_nm"] is None) != (out["line_to_nm"] is None):
        raise CaseError("[output] give both line_from_nm and line_to_nm, or neither")
    mag, given = case["magnetization"], raw.get("magnetization", {})
    for key in ("u_left", "direction"):
        if all(c == 0 for c in mag[key]):
            raise _fail("magnetization", key, mag[key], "must be a non-zero vector")
        norm = math.sqrt(sum(c * c for c in mag[key]))
        if key in given and abs(norm - 1) > 1e-9:
            logger.warning("warning: [magnetization] %s = %r has length %.6g: used as the unit "
                           "vector %s", key, mag[key], norm, [round(c / norm, 6) for c in mag[key]])
    geo = case["geometry"]
    given_geo = raw.get("geometry", {})
    if geo["kind"] == "gmsh":
        if geo["file"] is None:
            raise CaseError("[geometry] file is missing: kind = 'gmsh' reads a Gmsh .geo or .msh file")
        if not Path(geo["file"]).is_file():
            raise _fail("geometry", "file", geo["file"], "file does not exist")
        if Path(geo["file"]).suffix.lower() not in (".geo", ".msh"):
            raise _fail("geometry", "file", geo["file"], "must be a Gmsh .geo script or .msh file")
        stray = _changed(geo, given_geo, BUILTIN_GEOMETRY_KEYS)
        if stray:
            raise _fail("geometry", stray[0], given_geo[stray[0]], "does not apply to kind = 'gmsh' "
                        "(the file sets the geometry and the mesh)")
        if any(v is not None for v in case["boundary"].values()):
            raise CaseError("[boundary] is for the slab's ends; with kind = 'gmsh' use "
                            "[boundaries.NAME] per facet group")
        if "dim" not in given_geo:
            geo["dim"] = None  # from the file (preflight)
        for k, v in geo["parameters"].items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise _fail("geometry", f"parameters.{k}", v, "must be a number")
    else:
        stray = _changed(geo, given_geo, GMSH_GEOMETRY_KEYS)
        if stray:
            raise _fail("geometry", stray[0], given_geo[stray[0]], "applies to kind = 'gmsh' only")
        for section in NAMED:
            if raw.get(section):
                raise CaseError(f"[{section}] needs geometry.kind = 'gmsh' (named regions and "
                                f"boundaries of a mesh file); kind = {geo['kind']!r} has its own")
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
    guess = case["solver"]["initial_guess"]
    if guess is not None and not ((Path(guess) / "checkpoint.json").is_file()
                                  or (Path(guess) / "checkpoint" / "checkpoint.json").is_file()):
        raise _fail("solver", "initial_guess", guess, "no checkpoint there (write one with "
                    "output.checkpoint = true)")
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
    """Set `section.key` (or `regions.NAME.key`, `boundaries.NAME.key`) from a command-line
    string (parsed as a TOML value)."""
    if "." not in dotted:
        raise CaseError(f"parameter {dotted!r} must be written section.key, e.g. magnetization.theta_deg")
    section, key = dotted.split(".", 1)
    if section in NAMED:
        if "." not in key:
            raise CaseError(f"parameter {dotted!r} must be written {section}.NAME.key")
        name, key = key.split(".", 1)
        if key not in NAMED[section]:
            raise _unknown(key, NAMED[section], f"[{section}.{name}] ")
        target = case_raw.setdefault(section, {}).setdefault(name, {})
    elif section in SCHEMA:
        if key not in SCHEMA[section]:
            raise _unknown(key, SCHEMA[section], f"[{section}] ")
        target = case_raw.setdefault(section, {})
    else:
        raise _unknown(section, [*SCHEMA, *NAMED], "section ")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word: a string
    target[key] = value


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
        return "{" + ", ".join(f"{k} = {_toml_value(c)}" for k, c in v.items() if c is not None) + "}"
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
    for section, keys in [*SCHEMA.items(), *((f"{s}.NAME", k) for s, k in NAMED.items())]:
        for key, spec in keys.items():
            default = "required" if spec.default is REQUIRED else _toml_value(spec.default) \
                if spec.default is not None else "—"
            choices = f" ({' / '.join(map(str, spec.choices))})" if spec.choices else ""
            rows.append(f"| `{section}.{key}` | {spec.kind} | {spec.unit or ''} | {default} | "
                        f"{spec.doc}{choices} |")
    return "\n".join(rows) + "\n"
