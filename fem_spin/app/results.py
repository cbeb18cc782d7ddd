"""What a run writes and reports: the line profile, summary.json's numbers, the units, the
ParaView files, case.toml, README.txt and the pictures."""

from __future__ import annotations

import errno
import logging
import platform
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fem_spin._backend import MPI, PETSc, dolfinx, ufl
from fem_spin.geometry.mesh import Domain
from fem_spin.io.case import dump_toml
from fem_spin.io.output import OutputError, axis_points, derived_fields, write_paraview, write_profile_csv
from fem_spin.parallel import on_root
from fem_spin.io.model import Case, takes_case
from fem_spin.io.schema import CURRENT_KEYS, DeviceSection, RingSection
from fem_spin.physics.integrals import RegionIntegrals
from fem_spin.physics.material import Material
from fem_spin.physics.problem import SpinProblem
from fem_spin.progress import logger


@dataclass
class RunResult:
    problem: SpinProblem
    folder: Path | None
    summary: dict[str, Any] = field(default_factory=dict)
    profile: np.ndarray | None = None


class ResultError(RuntimeError):
    """A solution that must not be written (NaN, profile off the mesh): exit code 1."""


def versions() -> dict[str, str]:
    """Versions of the stack, for `fem-spin info` and the saved case."""
    from fem_spin import __version__

    return {
        "fem_spin": __version__,
        "dolfinx": dolfinx.__version__,
        "petsc": ".".join(map(str, PETSc.Sys.getVersion())),
        "mpi": MPI.Get_library_version().splitlines()[0].strip(),
        "mpi4py": __import__("mpi4py").__version__,
        "python": platform.python_version(),
        "ranks": str(MPI.COMM_WORLD.size),
    }


@takes_case
def profile_samples(case: Case, problem: SpinProblem) -> tuple[np.ndarray, np.ndarray, str]:
    """Points of the line profile and their abscissa (x for the slab, arc length for the ring
    and along a device's line)."""
    geo, n = case.geometry, case.output.profile_points
    if isinstance(geo, DeviceSection):
        start, end = profile_line(case, problem.domain)
        t = np.linspace(0.0, 1.0, n)
        pts = start[None, :] + t[:, None] * (end - start)[None, :]
        return t * np.linalg.norm(end - start), pts, "s_nm"
    if isinstance(geo, RingSection):
        from fem_spin.geometry.ring import centreline

        s, pts = centreline(geo.length_nm, n)
        return s, pts, "s_nm"
    L = geo.length_nm
    pts = axis_points(-L / 2, L / 2, n)
    return pts[:, 0], pts, "x_nm"


@takes_case
def profile_line(case: Case, domain: Domain) -> tuple[np.ndarray, np.ndarray]:
    """The CSV line of a device: output.line_from_nm -> line_to_nm, or by default the mesh's
    longest bounding-box axis through its centre."""
    out = case.output
    if out.line_from_nm is not None:
        return np.asarray(out.line_from_nm, float), np.asarray(out.line_to_nm, float)
    comm = domain.comm
    x = domain.mesh.geometry.x
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    comm.Allreduce(x.min(axis=0) if len(x) else lo.copy(), lo, op=MPI.MIN)
    comm.Allreduce(x.max(axis=0) if len(x) else hi.copy(), hi, op=MPI.MAX)
    axis = int(np.argmax(hi - lo))
    centre = (lo + hi) / 2
    start, end = centre.copy(), centre.copy()
    start[axis], end[axis] = lo[axis], hi[axis]
    return start, end


def region_summaries(problem: SpinProblem) -> dict[str, dict[str, Any]]:
    """Per region (cell group): volume [nm^dim], mean m, mean |m| and the total torque
    integral of T = -omega0 M/M0 x m [1/s * nm^dim]."""
    dom = problem.domain
    if dom.cell_tags is None or not dom.cells:
        return {}
    regions = RegionIntegrals(dom, quadrature_degree=problem.form.quadrature_degree)
    m, T = problem.m, problem.torque()
    out = {name: {"volume_nm": regions.volumes[name],
                  "mean_m": [regions.integral(m[i], name) / regions.volumes[name] for i in range(3)],
                  "mean_abs_m": regions.integral(ufl.sqrt(ufl.dot(m, m)), name) / regions.volumes[name],
                  "torque_integral": [regions.integral(T[i], name) for i in range(3)]}
           for name in regions.names}
    for name, sot in spin_orbit_torques(problem, regions, out).items():
        out[name]["spin_orbit_torque"] = sot
    return out


def spin_orbit_torques(problem: SpinProblem, regions: RegionIntegrals, summaries: dict) -> dict:
    """Per magnet touching a region with a spin Hall angle: p, the unit moment direction of the
    spin Hall current injected into it (int S_SH.n_in dA, `injected_flux`: theta_SH j_e x n for a
    flat interface of normal n into the magnet), its mean direction u, and the torque_integral T
    split into its damping-like part T.(p - (p.u)u)/|..| (towards p) and its field-like part
    T.(u x p)/|u x p| (docs/conventions.md). None of these when p is along u (no split)."""
    from fem_spin.physics.integrals import injected_flux

    j_e = problem.current
    if j_e is None or not isinstance(problem.regions, dict):
        return {}
    if not isinstance(j_e, dolfinx.fem.Function):
        j_e = dolfinx.fem.Constant(problem.domain.mesh,
                                   dolfinx.default_scalar_type(tuple(np.asarray(j_e, float))))
    source = problem.coef.spin_hall(j_e)
    magnets = [n for n in regions.names if problem.regions[n].magnetization is not None]
    if source is None or not magnets:
        return {}
    flux = injected_flux(problem.domain, source, magnets, problem.form.quadrature_degree)
    out = {}
    M = problem.coef.M
    for name in magnets:
        size = float(np.linalg.norm(flux[name]))
        if size == 0.0:  # no spin Hall region touches this magnet
            continue
        p = flux[name] / size
        u = np.array([regions.integral(M[i], name) for i in range(3)])
        u = u / (np.linalg.norm(u) or 1.0)
        T = np.array(summaries[name]["torque_integral"])
        a, b = p - (p @ u) * u, np.cross(u, p)
        sin = float(np.linalg.norm(b))
        dl = float(T @ a) / sin if sin > 1e-9 else None
        fl = float(T @ b) / sin if sin > 1e-9 else None
        out[name] = {"p": p.tolist(), "u": u.tolist(), "injected_spin_current": flux[name].tolist(),
                     "damping_like": dl, "field_like": fl,
                     "field_like_over_damping_like": fl / dl if dl else None}
    return out


def torque_columns(summary: dict) -> dict[str, float | None]:
    """One table row's worth of a summary's spin-orbit torques (damping_like_NAME,
    field_like_NAME, ratio_NAME per magnet), e.g. for a sweep's table."""
    row = {}
    for name, reg in summary.get("regions", {}).items():
        sot = reg.get("spin_orbit_torque")
        if sot:
            row[f"damping_like_{name}"] = sot["damping_like"]
            row[f"field_like_{name}"] = sot["field_like"]
            row[f"ratio_{name}"] = sot["field_like_over_damping_like"]
    return row


def boundary_currents(problem: SpinProblem) -> dict[str, list[float]]:
    """Per facet group on the boundary: the outward spin current through it, int J.n dA
    [J's unit times nm^(dim-1)]; interior groups (interfaces) are left out."""
    dom = problem.domain
    if dom.facet_tags is None or not dom.facets:
        return {}
    ds = ufl.Measure("ds", domain=dom.mesh, subdomain_data=dom.facet_tags,
                     metadata={"quadrature_degree": problem.form.quadrature_degree})
    Jn = ufl.dot(problem.spin_current(), ufl.FacetNormal(dom.mesh))
    one = dolfinx.fem.Constant(dom.mesh, dolfinx.default_scalar_type(1.0))

    def total(expr) -> float:
        return dom.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(expr)), op=MPI.SUM)

    out = {}
    for name, tag in sorted(dom.facets.items(), key=lambda kv: kv[1]):
        vals = [total(Jn[k] * ds(tag)) for k in range(3)]
        if total(one * ds(tag)) > 0:
            out[name] = vals
    return out


def peak_memory_mb(comm: MPI.Comm) -> dict[str, float]:
    """Peak resident memory of this process (Linux reports KiB), summed and largest over ranks."""
    mine = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"all_ranks": comm.allreduce(mine, op=MPI.SUM), "largest_rank": comm.allreduce(mine, op=MPI.MAX)}


@takes_case
def run_summary(case: Case, problem: SpinProblem, values: np.ndarray | None, material: Material) -> dict:
    """summary.json's numbers (collective: every rank calls it; the peaks come from rank 0)."""
    comm, k = problem.domain.comm, material.transverse_k
    summary = {
        "dofs": problem.num_dofs, "cells": problem.domain.num_cells(), "ranks": comm.size,
        "degree": problem.degree, "quadrature_degree": problem.form.quadrature_degree,
        "diffusion_quadrature_degree": problem.form.diffusion_quadrature_degree,
        "solver": problem.solver, "iterations": getattr(problem, "iterations", None),
        "l_sf_nm": material.l_sf_nm, "beta": material.beta,
        # Transverse accumulation ~ exp(-k x): it decays over 1/Re k and oscillates with
        # wavelength 2 pi/Im k; 1/|k| is the length the mesh must resolve.
        "transverse_decay_length_nm": 1.0 / k.real,
        "transverse_wavelength_nm": 2 * np.pi / abs(k.imag) if k.imag else None,
        "transverse_resolution_length_nm": 1.0 / abs(k),
        "regions": region_summaries(problem),
        "boundary_spin_currents": boundary_currents(problem),
    }
    if getattr(problem, "potential", None) is not None:
        current = CURRENT_KEYS[problem.domain.mesh.topology.dim]  # A, A/m or A/m^2
        summary["contacts"] = {n: {"potential_V": problem.potential.potentials[n], current:
                                   problem.potential.currents[n]} for n in problem.potential.currents}
    if comm.rank == 0:
        summary["max_abs_m"] = {c: float(np.max(np.abs(values[:, i]))) for i, c in enumerate("xyz")}
    summary = comm.bcast(summary, root=0)
    summary["units"] = units_of(case)
    return summary


# What the numbers in every output mean (summary.json "units", README.txt in each result).
UNITS = {
    "length": "nm (x_nm, s_nm, every *_nm key)",
    "m": "spin accumulation normalised to the equilibrium accumulation of the ferromagnet "
         "(dimensionless; the slab's ends hold m = -u_L and +u_R)",
    "M": "magnetization M/M0 = mu u (dimensionless)",
    "abs_m": "|m| (dimensionless)",
    "T": "torque density in 1/s (-omega0 M/M0 x m): the sd torque on M per unit m",
    "J": "spin current J[k, j] = -Dt^{kp} d_j m^p in m/s (per unit m): k the spin component, "
         "j the spatial direction; ParaView's components 0..8 are k*3 + j (xx, xy, xz, yx, ...)",
    "profile.csv": "m along the slab's axis (x_nm, y = z = 0) or the ring's centreline "
                   "(s_nm, arc length from corner 0 at (0, 0) counter-clockwise)",
    "frame": "global (lab) x, y, z components everywhere",
    "regions": "volume_nm in nm^dim; mean_m normalised; torque_integral in 1/s nm^dim",
    "boundary_spin_currents": "outward int J.n dA in m/s nm^(dim-1)",
}
UNITS_SI = {  # with a charge-current drive (MODEL.md, "Charge-current drive")
    **UNITS,
    "m": "spin accumulation in A/m (magnetization of the conduction electrons)",
    "abs_m": "|m| in A/m",
    "T": "torque density -omega0 M/M0 x m in A/(m s): the sd torque on M (dM/dt)",
    "J": "spin current J[k, j] = -Dt^{kp} d_j m^p - P (muB/e) mu u^k j_e^j - theta_SH (muB/e) "
         "eps_kjl j_e^l in A/s (magnetization flux): k the spin component, j the spatial "
         "direction; ParaView's components 0..8 are k*3 + j",
    "B_sd": "equivalent field of the accumulation on M, +omega0 m/(gamma Ms) (parallel to m), in T",
    "V": "electric potential in V",
    "j_e": "charge (conventional) current density in A/m^2; electrons flow the other way",
    "profile.csv": "m in A/m along the line (s_nm from its start)",
    "regions": "volume_nm in nm^dim; mean_m in A/m; torque_integral in A/(m s) nm^dim",
    "boundary_spin_currents": "outward int J.n dA in A/s nm^(dim-1)",
    "spin_orbit_torque": "per magnet touching a spin Hall region (theta_SH): p, the unit moment "
                         "direction the spin Hall current injects (theta_SH j_e x n, n into the "
                         "magnet); u, the magnet's mean direction; damping_like = T.(p - (p.u)u)/"
                         "|u x p| (towards p) and field_like = T.(u x p)/|u x p| of T = "
                         "torque_integral, in A/(m s) nm^dim; injected_spin_current = int S_SH.n "
                         "dA in A/s nm^(dim-1)",
}
RING_FRAME = ("ring: files hold global x, y, z components; fem_spin.geometry.ring.ring_components turns "
              "them into (tangent, outward normal, z) along the loop")


@takes_case
def units_of(case: Case) -> dict[str, str]:
    """The units block of summary.json and README.txt for this case."""
    base = UNITS_SI if case.driven else UNITS
    return base | ({"components": RING_FRAME} if isinstance(case.geometry, RingSection) else {})


def check_finite(problem: SpinProblem, values: np.ndarray | None, abscissa: str) -> None:
    """Refuse to write a solution with NaN/inf, or a profile that leaves the mesh (collective)."""
    comm = problem.domain.comm
    if comm.bcast(values is not None and len(values) == 0, root=0):
        raise ResultError(f"the profile line ({abscissa}) misses the mesh: set output.line_from_nm "
                          "and line_to_nm; nothing written")
    bad_m = comm.allreduce(int(np.count_nonzero(~np.isfinite(problem.m.x.array))), op=MPI.SUM)
    off = int(np.count_nonzero(np.isnan(values).any(axis=1))) if comm.rank == 0 else 0
    off = comm.bcast(off, root=0)
    if bad_m:
        raise ResultError(f"the solution has {bad_m} non-finite values (NaN/inf); nothing written")
    if off:
        raise ResultError(f"{off} of {len(values) if values is not None else '?'} points of the "
                          f"profile ({abscissa}) are outside the mesh: the mesh does not span the "
                          "case's geometry; nothing written")


@takes_case
def write_results(case: Case, problem: SpinProblem, folder: Path, s: np.ndarray,
                  values: np.ndarray | None, abscissa: str) -> None:
    """fields.pvd, checkpoint/, profile.csv, case.toml and README.txt (collective); the pictures
    come after the result is in place (`draw_pictures`)."""
    comm = problem.domain.comm
    out = case.output
    check_space(case, problem, folder)
    if out.paraview:
        write_paraview(folder, derived_fields(problem, case.driven, out.fields), vtx=out.vtx,
                       precision=out.precision)
    if out.checkpoint:
        from fem_spin.io.checkpoint import write_checkpoint

        write_checkpoint(folder / "checkpoint", {"m": problem.m}, {"units": units_of(case)["m"]})
    def serial_files() -> None:
        write_profile_csv(folder / "profile.csv", s, values, abscissa=abscissa,
                          unit="A_per_m" if case.driven else "")
        header = "resolved case written by fem-spin: run it again with `fem-spin run case.toml`\n" + \
            "\n".join(f"{k}: {val}" for k, val in versions().items())
        (folder / "case.toml").write_text(dump_toml(case.to_dict(), header))
        (folder / "README.txt").write_text(results_readme(case))

    # Rank 0 writes them; a failure stops every rank together with one message.
    on_root(comm, serial_files, failures=(OSError,), explain=lambda exc: write_failure(case, folder, exc))


# Bytes of the result folder per DOF of m and per field component (measured: 52-53 B/DOF for the
# default fields in double precision, binary zlib VTK XML, 8.4e5-2.7e6 DOFs); the estimate
# takes the uncompressed size, an upper bound.
def result_bytes(case: Case, problem: SpinProblem) -> float:
    """An upper estimate of the result folder's size: the ParaView fields uncompressed."""
    comps = {"m": 3, "M": 3, "T": 3, "abs_m": 1, "J": 9, "B_sd": 3}
    per_node = sum(comps[f] for f in set(case.output.fields) | {"m"}) if case.output.paraview else 0
    value = 4 if case.output.precision == "single" else 8
    nodes = problem.num_dofs / 3
    return nodes * per_node * value + 64 * problem.domain.num_cells() + 1e6


def check_space(case: Case, problem: SpinProblem, folder: Path) -> None:
    """Before anything is written: refuse (exit 2) when the result would not fit on its disk."""
    need = result_bytes(case, problem)

    def check() -> None:
        free = shutil.disk_usage(folder).free
        if free < need:
            raise OutputError(f"the result needs about {need / 1e6:.3g} MB and the disk of "
                              f"{case.output.folder} has {free / 1e6:.3g} MB free: nothing written "
                              "(an earlier result there is left as it was); free space or choose "
                              "another --output")
    on_root(problem.domain.comm, check)


def write_failure(case: Case, folder: Path, exc: BaseException) -> str:
    """The one-line message of a write that failed on rank 0."""
    if getattr(exc, "errno", None) == errno.ENOSPC:
        written = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        return (f"no space left on the disk of {case.output.folder} after {written / 1e6:.3g} MB of "
                f"the result ({shutil.disk_usage(folder).free / 1e6:.3g} MB free): nothing written "
                "(an earlier result there is left as it was)")
    return f"cannot write the result in {case.output.folder}: {exc}"


@takes_case
def draw_pictures(case: Case, folder: Path, rows, comm: MPI.Comm) -> float | None:
    """The PNGs of a finished result folder (rank 0), off the critical path: the result is
    complete and in place before the first picture starts, and a picture that fails does not
    touch it. Logs and returns how long they took (None when none are drawn)."""
    if not case.output.png:
        return None
    start = time.perf_counter()
    if comm.rank == 0:
        made: list[Path] = []
        try:
            made = write_pictures(case, folder)
            if rows is not None:
                from fem_spin.physics.dynamics import plot_dynamics, read_table

                made.append(plot_dynamics(read_table(folder / "dynamics.csv"), case.magnet_names(),
                                          folder / "dynamics.png",
                                          "magnetization dynamics (Eq. 79)"))
        except Exception as exc:  # noqa: BLE001 - a picture must not sink a good run
            logger.warning("warning: pictures incomplete (%s: %s); the result is complete",
                           type(exc).__name__, exc)
        logger.info("pictures: %d PNG files in %.2f s (output.png = false skips them)", len(made),
                    time.perf_counter() - start)
    return comm.bcast(time.perf_counter() - start, root=0)


@takes_case
def write_pictures(case: Case, folder: Path) -> list[Path]:
    """profile.png, m_x.png for 2D/3D meshes and cut.png (m on a plane through the centre) for
    3D devices: the same for `run` and `fem-spin plot`."""
    from fem_spin.io.output import field_name
    from fem_spin.io.maps import line_regions, render_field, render_slice
    from fem_spin.io.plotting import plot_profile

    geo = case.geometry
    ring, device = isinstance(geo, RingSection), isinstance(geo, DeviceSection)
    log = logging.getLogger("fem_spin")
    fields = folder / "fields.pvd"
    names, regions = {}, []
    label = Path(geo.file).stem if device else "ring" if ring else f"{geo.dim}D slab"
    if device:
        out = case.output
        ends = (out.line_from_nm, out.line_to_nm)
        where = (f"({', '.join(f'{v:g}' for v in ends[0])}) → "
                 f"({', '.join(f'{v:g}' for v in ends[1])}) nm" if ends[0] is not None else
                 "its longest axis")
        title = f"{label}: spin accumulation along {where}"
        try:  # region names (the Gmsh physical groups) and where the line crosses them
            from fem_spin.geometry.mesh import inspect_mesh_file

            info = inspect_mesh_file(geo.file, parameters=getattr(geo, "parameters", None))
            names = {tag: name for name, tag in info.cells.items()}
            if fields.is_file():
                regions = line_regions(fields, *ends, names=names)
        except Exception as exc:  # noqa: BLE001 - a picture must not sink a good run
            log.debug("no regions on the profile (%s)", exc)
    elif ring:
        title = "ring: spin accumulation along the centreline"
    else:  # the slab: layer_left on x < 0, layer_right on x > 0 (fem_spin.geometry.mesh)
        title = f"{label}: spin accumulation along the axis"
        half = geo.length_nm / 2
        regions = [(-half, 0.0, "layer_left"), (0.0, half, "layer_right")]
    made = [plot_profile(folder / "profile.csv", folder / "profile.png", title=title,
                         regions=regions)]
    if geo.dim > 1 and fields.is_file():
        try:
            m_name = field_name("m", case.driven)
            pic = render_field(fields, folder / "m_x.png", m_name, 0,
                               title=f"{label}: spin accumulation m$_x$")
            made += [pic] if pic else []
            if device and geo.dim == 3:
                pic = render_slice(fields, folder / "cut.png", m_name, "y", names=names,
                                   title=f"{label}: spin accumulation")
                made += [pic] if pic else []
                if (folder / "potential.pvd").is_file():
                    pic = render_slice(folder / "potential.pvd", folder / "j_e.png",
                                       field_name("j_e", True), "y", names=names,
                                       title=f"{label}: charge current density")
                    made += [pic] if pic else []
        except Exception as exc:  # noqa: BLE001 - a picture must not sink a good run
            log.warning("warning: no 3D picture (%s)", exc)
    return made


@takes_case
def results_readme(case: Case) -> str:
    """README.txt of a result folder: the files this run writes and what each holds, units,
    index order, frames."""
    geo, out = case.geometry, case.output
    device = isinstance(geo, DeviceSection)
    m = "m_A_per_m" if case.driven else "m"
    files = {"case.toml": "the resolved case: `fem-spin run case.toml -o NEW` repeats the run",
             "summary.json": "DOFs, timings, solver, peaks, lengths, units, versions",
             "profile.csv": f"{m} (x, y, z) along a line"}
    if out.paraview:
        files["fields.pvd (+ fields/)"] = (
            f"open this in ParaView: {m} and {', '.join(f for f in out.fields if f != 'm')} on the nodes "
            "(J averaged over the cells at each node, components Jxx, Jxy, ... = J[spin, space])"
            + ("; cell data 'region', the mesh's physical group numbers" if device else "")
            + "; binary compressed VTK XML, one .vtu per rank"
            + ("; the names carry the SI unit" if case.driven else ""))
        if case.current.drive == "solved":
            files["potential.pvd (+ potential/)"] = "V and j_e (averaged to the nodes) of the solved current"
        if out.vtx and dolfinx.common.has_adios2:
            files["*.bp"] = "the same fields as ADIOS2 VTX files"
    if out.checkpoint:
        files["checkpoint/"] = "m for solver.initial_guess of a later run (any number of ranks)"
    if case.dynamic:
        from fem_spin.app.build import demag_on

        extra = [n for n, on in (("B_demag", demag_on(case)), ("B_oersted", case.field.oersted)) if on]
        files["u_t.pvd (+ u_t/)"] = (f"time series of the magnetization's direction u"
                                     + (f" with {' and '.join(extra)} [T]" if extra else "")
                                     + f", every {case.dynamics.output_every} steps and at the end")
        files["m_t.pvd (+ m_t/)"] = f"time series of {m} and the torque T, at the same times"
        files["dynamics.csv"] = ("a row per step: t, " + ("stage, " if case.dynamics.stages else "")
                                 + "dt, error estimate, rejected steps, energies [J], "
                                 "the largest | |u| - 1 |, "
                                 + ("the largest torque [T] (relaxation), "
                                    if case.dynamics.relax or any(st.relax for st in case.dynamics.stages) else "")
                                 + "region averages of u and m")
        files["u_final.ovf"] = ("the last state of u as OVF 2.0 (binary, meshunit m, zero outside the "
                                "magnets): `profile = \"ovf\"` starts a later case from it")
        if case.dynamics.stages:
            files[", ".join(f"u_stage{k}.ovf" for k in range(1, len(case.dynamics.stages) + 1))] = \
                "u at the end of each stage, the same way"
    if out.png:
        pics = ["profile.png"]
        if geo.dim > 1 and out.paraview:
            pics.append("m_x.png")
            if device and geo.dim == 3:
                pics.append("cut.png")
                if case.current.drive == "solved":
                    pics.append("j_e.png")
        if case.dynamic:
            pics.append("dynamics.png")
        files[", ".join(pics)] = "pictures (drawn after the result is complete)"
    units = units_of(case)
    return ("fem-spin result folder\n\nFiles:\n" + "".join(f"  {k}: {v}\n" for k, v in files.items())
            + "\nUnits and meaning:\n" + "".join(f"  {k}: {v}\n" for k, v in units.items()))
