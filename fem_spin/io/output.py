"""Results for ParaView and for people: VTX (.bp), VTK (.pvd), CSV line profile, PNG.

Everything is written into a temporary sibling folder and moved into place only
when complete, so an interrupted run never leaves a half-written folder where a
good result was.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fem_spin._backend import MPI, dolfinx, ufl
from fem_spin.io.case import InputError


class OutputError(InputError):
    """The output folder cannot be used (exists without overwrite, unwritable)."""


def check_output_dir(path: Path, overwrite: bool) -> None:
    """Fail early (before any heavy work) if `path` cannot receive results."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"output folder {str(path)!r} exists; pass --overwrite to replace it")
    if path.exists() and not path.is_dir():
        raise OutputError(f"output {str(path)!r} exists and is not a folder")
    parent = path.resolve().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"output folder {str(path)!r} cannot be created: {str(probe)!r} is a file")
    # os.access says yes to root on read-only mounts and on /sys: create and remove a file.
    try:
        fd, name = tempfile.mkstemp(prefix=".fem_spin-probe-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutputError(f"output folder {str(path)!r} is not writable ({str(probe)!r}: "
                          f"{exc.strerror or exc})") from None


@contextlib.contextmanager
def atomic_dir(path: Path, comm: MPI.Comm = MPI.COMM_WORLD, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces `path` only if the block succeeds."""
    path = Path(path)
    tmp = None
    if comm.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.partial-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    tmp = Path(comm.bcast(str(tmp) if tmp else None, root=0))
    ok = False
    try:
        yield tmp
        ok = True
    finally:
        ok = comm.allreduce(ok, op=MPI.LAND) if ok else False
        if comm.rank == 0:
            if ok:
                old = None
                if path.exists():
                    if not overwrite:
                        shutil.rmtree(tmp, ignore_errors=True)
                        raise OutputError(f"output folder {str(path)!r} appeared during the run")
                    old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
                    path.rename(old)
                tmp.rename(path)
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        if ok:
            comm.Barrier()


# ParaView names of the fields with a charge-current drive (SI units in the names); the
# normalised mode keeps the plain names.
SI_NAMES = {"m": "m_A_per_m", "M": "M_over_M0", "T": "T_A_per_m_s", "abs_m": "abs_m_A_per_m",
            "J": "J_A_per_s", "B_sd": "B_sd_T", "V": "V_volt", "j_e": "j_e_A_per_m2"}


def field_name(key: str, si: bool) -> str:
    return SI_NAMES.get(key, key) if si else key


def derived_fields(problem, si: bool = False) -> dict[str, dolfinx.fem.Function]:
    """m, |m|, M, T (and B_sd) on the space of m; J (3x3) on a discontinuous space of the same
    degree; region tags (DG0); with a solved current V (P1) and j_e (DG1). `si`: name them with
    their SI units (charge-current drive)."""
    V, m = problem.V, problem.m
    mesh = V.mesh
    deg = problem.degree
    gdim = mesh.geometry.dim
    fields = {"m": m, "M": problem.M}

    def project(expr, space, name):
        f = dolfinx.fem.Function(space, name=name)
        f.interpolate(dolfinx.fem.Expression(expr, space.element.interpolation_points))
        f.x.scatter_forward()
        return f

    fields["T"] = project(problem.torque(), V, "T")
    S = dolfinx.fem.functionspace(mesh, ("Lagrange", deg))
    fields["abs_m"] = project(ufl.sqrt(ufl.dot(m, m)), S, "abs_m")
    J = problem.spin_current()  # shape (3, gdim): pad to 3x3 for ParaView
    J3 = ufl.as_matrix([[J[k, j] if j < gdim else 0.0 for j in range(3)] for k in range(3)])
    W = dolfinx.fem.functionspace(mesh, ("Discontinuous Lagrange", deg, (3, 3)))
    fields["J"] = project(J3, W, "J")
    tags = problem.domain.cell_tags
    if tags is not None and problem.domain.cells:  # region tags (ParaView: Threshold by region)
        R = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0)), name="region")
        R.x.array[R.function_space.dofmap.list[tags.indices, 0]] = tags.values
        R.x.scatter_forward()
        fields["region"] = R
    B_sd = problem.coef.sd_field(m)
    if B_sd is not None:
        fields["B_sd"] = project(B_sd, V, "B_sd")
    potential = getattr(problem, "potential", None)
    if potential is not None:
        fields["V"] = potential.V
        fields["j_e"] = project(potential.j, dolfinx.fem.functionspace(mesh, ("DG", 1, (3,))), "j_e")
    for key, f in fields.items():
        f.name = field_name(key, si)
    return fields


def write_paraview(folder: Path, fields: dict[str, dolfinx.fem.Function]) -> list[Path]:
    """VTX files (one per element type) and VTK .pvd files, all ranks writing."""
    comm = fields["m"].function_space.mesh.comm
    groups = {"fields": [fields[k] for k in ("m", "M", "T", "B_sd") if k in fields],
              "abs_m": [fields["abs_m"]], "current": [fields["J"]]}
    for group, key in (("regions", "region"), ("potential", "V"), ("charge_current", "j_e")):
        if key in fields:
            groups[group] = [fields[key]]
    written = []
    for name, funcs in groups.items():
        if dolfinx.common.has_adios2:
            with dolfinx.io.VTXWriter(comm, folder / f"{name}.bp", funcs, engine="BP4") as vtx:
                vtx.write(0.0)
            written.append(folder / f"{name}.bp")
        with dolfinx.io.VTKFile(comm, folder / f"{name}.pvd", "w") as vtk:
            vtk.write_function(funcs, 0.0)
        written.append(folder / f"{name}.pvd")
    return written


def sample(u: dolfinx.fem.Function, points: np.ndarray) -> np.ndarray | None:
    """Values of u at points (N, 3), gathered on rank 0 (None on other ranks).

    Points outside the mesh give NaN. A point on a partition boundary is taken
    from the lowest rank that finds it, so 1 and N ranks give the same answer.
    """
    mesh = u.function_space.mesh
    comm = mesh.comm
    tdim = mesh.topology.dim
    ncells = mesh.topology.index_map(tdim).size_local
    tree = dolfinx.geometry.bb_tree(mesh, tdim, entities=np.arange(ncells, dtype=np.int32))
    pts = np.ascontiguousarray(points, dtype=mesh.geometry.x.dtype)
    cand = dolfinx.geometry.compute_collisions_points(tree, pts)
    coll = dolfinx.geometry.compute_colliding_cells(mesh, cand, pts)
    idx, cells = [], []
    for i in range(len(pts)):
        links = coll.links(i)
        if len(links):
            idx.append(i)
            cells.append(links[0])
    bs = int(np.prod(u.ufl_shape)) if u.ufl_shape else 1
    vals = u.eval(pts[idx], np.asarray(cells, dtype=np.int32)) if idx else np.zeros((0, bs))
    gathered = comm.gather((np.asarray(idx, dtype=int), np.asarray(vals).reshape(-1, bs)), root=0)
    if comm.rank != 0:
        return None
    out = np.full((len(pts), bs), np.nan)
    for ids, v in reversed(gathered):  # lowest rank written last, so it wins
        out[ids] = v
    return out


def axis_points(x0: float, x1: float, n: int) -> np.ndarray:
    """n points on the slab axis from x0 to x1 (y = z = 0)."""
    pts = np.zeros((n, 3))
    pts[:, 0] = np.linspace(x0, x1, n)
    return pts


def write_profile_csv(path: Path, coords: np.ndarray, values: np.ndarray,
                      columns: tuple[str, ...] = ("m_x", "m_y", "m_z"), abscissa: str = "x_nm",
                      unit: str = "") -> None:
    """CSV with a header; rank 0 only (call with the gathered values)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([abscissa, *(f"{c}_{unit}" if unit else c for c in columns)])
        for s, row in zip(coords, values):
            w.writerow([f"{s:.10g}", *(f"{v:.10g}" for v in row)])


def read_profile_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path) as fh:
        header = fh.readline().strip().split(",")
    return header, np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
