"""Case files (TOML): validation with one-line errors, and defaults.

The keys are those of `fem_spin.io.schema`. `load_case` / `resolve_case` check everything
that can be checked before any mesh is built and return the case as a table with all defaults
filled in (what case.toml records and sweeps change); `fem_spin.io.schema.as_case` turns it into
the typed `Case` the rest of the package reads; `dump_toml` writes it next to the results.
"""

from __future__ import annotations

import difflib
import logging
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fem_spin.io.schema import (BUILTIN_GEOMETRY_KEYS, CURRENT_KEYS, GMSH_GEOMETRY_KEYS, NAMED, REQUIRED,
                                SCHEMA, STAGE_KEYS, Key, contact_current)
from fem_spin.io.schema_export import toml_value

logger = logging.getLogger("fem_spin")


class InputError(ValueError):
    """Bad input of any kind (case file, mesh file, output folder, command line): exit code 2.

    Raised on rank 0 by the checks that run before any heavy work and re-raised on every rank
    by `fem_spin.parallel.on_root`, or raised collectively (same verdict on every rank)."""


class CaseError(InputError):
    """Bad input in a case: the message names the key and the value."""


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
    elif spec.kind == "stages":
        return _stages(section, key, value)
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


def _stages(section: str, key: str, value: Any) -> list[dict[str, Any]]:
    """[[dynamics.stages]]: a list of tables (empty: no stages), each checked as a StageSection."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, Mapping) for v in value):
        raise _fail(section, key, value, "must be a list of tables ([[dynamics.stages]])")
    return [_table(f"{section}.{key}[{i}]", STAGE_KEYS, table) for i, table in enumerate(value, 1)]


def _table(where: str, keys: Mapping[str, Key], given: Mapping[str, Any]) -> dict[str, Any]:
    """One table of keys ([where]) checked and completed: unknown keys refused (with the closest
    known one), given values converted, required ones demanded, the rest their defaults."""
    for key in given:
        if key not in keys:
            raise _unknown(key, keys, f"[{where}] ")
    out = {}
    for key, spec in keys.items():
        if key in given:
            out[key] = _convert(where, key, spec, given[key])
        elif spec.default is REQUIRED:
            raise CaseError(f"[{where}] {key} is missing ({spec.doc})")
        else:
            out[key] = _default(spec)
    return out


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
        case[section] = _table(section, keys, raw.get(section, {}))
    for section, keys in NAMED.items():
        case[section] = {}
        for name, table in raw.get(section, {}).items():
            where = f"{section}.{name}"
            if not isinstance(table, Mapping):
                raise _fail(section, name, table, f"must be a table [{where}]")
            case[section][name] = _table(where, keys, table)
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


MAX_STEPS = 1e6  # more steps than this in one [dynamics] is refused unless allow_long


def _check_dynamics(case: dict) -> None:
    """[dynamics] needs a step, Ms and alpha_G for every magnet, and one uniform field."""
    dyn = case["dynamics"]
    if dyn["stages"]:
        _check_stages(case)
    if dyn["t_end_s"] is None:
        if dyn["dt_s"] is not None:
            raise CaseError("[dynamics] dt_s needs t_end_s (the end of the simulated time)")
        return
    if dyn["dt_s"] is None:
        raise CaseError("[dynamics] t_end_s needs dt_s (the time step)")
    steps = dyn["t_end_s"] / dyn["dt_s"] if not dyn["stages"] else \
        sum(s["t_end_s"] / s["dt_s"] for s in dyn["stages"])
    if not dyn["stages"] and dyn["tolerance"] is None and (abs(steps - round(steps)) > 1e-9 * steps
                                                          or round(steps) < 1):
        raise _fail("dynamics", "dt_s", dyn["dt_s"], f"t_end_s = {dyn['t_end_s']!r} must be a whole "
                    "number of steps")
    if dyn["electrons"] == "transient" and dyn["tolerance"] is not None:
        raise _fail("dynamics", "electrons", "transient", "takes fixed steps: leave out tolerance")
    if steps > MAX_STEPS and not dyn["allow_long"]:
        what = "steps" if dyn["tolerance"] is None else "steps of the first size (adaptive steps grow)"
        raise _fail("dynamics", "dt_s", dyn["dt_s"], f"t_end_s = {dyn['t_end_s']!r} takes {steps:.3g} "
                    f"{what}, more than {MAX_STEPS:.0e}; check dt_s, or set allow_long = true")
    if case["geometry"]["kind"] == "gmsh":
        magnets = [n for n, r in case["regions"].items() if r["magnet"]]
        if not any(case["regions"][n]["dynamic"] for n in magnets):
            raise CaseError("[dynamics] t_end_s is set but nothing moves: "
                            + ("every magnet is held (dynamic = false)" if magnets else
                               "the device has no magnet") + "; remove [dynamics] for a steady solve")
    tables = {f"regions.{n}": r for n, r in case["regions"].items() if r["magnet"]} or \
        {"material": case["material"]}
    for where, spec in tables.items():
        for key in ("Ms_A_per_m", "alpha_G"):
            if spec[key] is None:
                raise CaseError(f"[{where}] {key} is missing: [dynamics] needs it for every magnet")
        if case["regions"] and spec.get("B_T") != case["field"]["B_T"]:
            raise _fail(where, "B_T", spec.get("B_T"), "[dynamics] takes one uniform field: set "
                        "[field] B_T only")
    # Relaxation is descent at the rate gamma/alpha_G: without damping nothing relaxes (the
    # step's torque, alpha_G |v|/gamma, would read 0 and call it relaxed at once)
    undamped = [w for w, spec in tables.items() if spec["alpha_G"] == 0 and spec.get("dynamic", True)]
    if dyn["relax"] and undamped:
        raise _fail(undamped[0], "alpha_G", 0.0, "[dynamics] relax = true needs damping (alpha_G > 0): "
                    "relaxation descends at the rate gamma/alpha_G")
    for i, st in enumerate(dyn["stages"], 1):
        if st["relax"] and (st["alpha_G"] == 0 or (st["alpha_G"] is None and undamped)):
            where, value = (f"dynamics.stages[{i}]", 0.0) if st["alpha_G"] == 0 else (undamped[0], 0.0)
            raise _fail(where, "alpha_G", value, f"relax stage {i} needs damping (alpha_G > 0): "
                        "relaxation descends at the rate gamma/alpha_G")


def _check_stages(case: dict) -> None:
    """[[dynamics.stages]]: every stage's defaults filled in ([dynamics] dt_s and relax_torque_T,
    [field] B_T), each a whole number of fixed steps; [dynamics] t_end_s becomes their sum (or
    must be it), so `dynamic` and the step count read as without stages."""
    dyn = case["dynamics"]
    for key in ("relax", "tolerance"):
        if dyn[key]:
            raise _fail("dynamics", key, dyn[key], "does not go with stages: give each stage its own relax "
                        "(stages take fixed steps)")
    for i, st in enumerate(dyn["stages"], 1):
        where = f"dynamics.stages[{i}]"
        if st["dt_s"] is None:
            if dyn["dt_s"] is None:
                raise CaseError(f"[{where}] dt_s is missing: give it, or [dynamics] dt_s for every stage")
            st["dt_s"] = dyn["dt_s"]
        if st["B_T"] is None:
            st["B_T"] = list(case["field"]["B_T"])
        if st["relax_torque_T"] is None:
            st["relax_torque_T"] = dyn["relax_torque_T"]
        steps = st["t_end_s"] / st["dt_s"]
        if abs(steps - round(steps)) > 1e-9 * steps or round(steps) < 1:
            raise _fail(where, "dt_s", st["dt_s"], f"t_end_s = {st['t_end_s']!r} must be a whole number of steps")
    total = sum(st["t_end_s"] for st in dyn["stages"])
    if dyn["t_end_s"] is None:
        dyn["t_end_s"] = total
    elif abs(dyn["t_end_s"] - total) > 1e-9 * total:
        raise _fail("dynamics", "t_end_s", dyn["t_end_s"], f"the stages last {total!r} s: leave t_end_s out "
                    "with stages (or give their sum)")
    if dyn["dt_s"] is None:
        dyn["dt_s"] = dyn["stages"][0]["dt_s"]


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
                if b["potential_V"] is not None or contact_current(b) is not None]
    if drive == "solved" and not any(case["boundaries"][n]["potential_V"] is not None for n in contacts):
        raise CaseError("[current] drive = 'solved' needs a contact at a fixed potential: "
                        "[boundaries.NAME] potential_V = 0.0 (a ground)")
    for name in contacts:
        bnd, given_b = case["boundaries"][name], raw["boundaries"][name]
        if drive != "solved":
            raise CaseError(f"[boundaries.{name}] potential_V/current_A need current.drive = 'solved'")
        currents = [k for k in CURRENT_KEYS.values() if bnd[k] is not None]
        if bnd["potential_V"] is not None and currents:
            raise CaseError(f"[boundaries.{name}] give potential_V or {currents[0]}, not both")
        if len(currents) > 1:
            raise CaseError(f"[boundaries.{name}] give one of {', '.join(currents)}")
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
        # (a saved case.toml lists the defaults: only a changed value means something)
        unused = [k for k in ("theta_deg", "u_left")
                  if k in given and mag[k] != _default(SCHEMA["magnetization"][k])]
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


def dump_toml(case: Mapping[str, Mapping[str, Any]], header: str = "") -> str:
    """TOML text of a resolved case (None values are left out: they mean 'default')."""
    lines = [f"# {line}" for line in header.splitlines()]
    for section, keys in case.items():
        lines.append(f"\n[{section}]")
        for key, value in keys.items():
            if value is not None:
                lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"
