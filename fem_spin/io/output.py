"""Results for ParaView and for people: VTK XML (.pvd, binary), optional VTX (.bp), CSV line
profile, PNG.

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
from fem_spin.io.vtu import write_vtu
from fem_spin.progress import logger


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
def atomic_dir(path: Path, comm: MPI.Comm = MPI.COMM_WORLD, overwrite: bool = False,
               resumable: bool = False, keep_on: tuple[type[BaseException], ...] = ()) -> Iterator[Path]:
    """Yield a temporary folder that replaces `path` only if the block succeeds.

    resumable: the folder is `.NAME.partial-resumable` (used again if it exists: a dynamic run
    goes on from its checkpoint there) and is kept whatever stops the block, so the checkpoint
    survives a full disk or a crash too; keep_on: exceptions that leave a folder in place."""
    from fem_spin.parallel import on_root

    path = Path(path)

    def make() -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.partial-{'resumable' if resumable else uuid.uuid4().hex[:8]}"
        tmp.mkdir(exist_ok=resumable)
        if resumable:
            take_lock(tmp, path)
            if overwrite and any(p.name != LOCK for p in tmp.iterdir()):
                # --overwrite starts afresh: a stopped run's checkpoint (of this lock's holder
                # now) is not gone on from, e.g. after its mesh changed
                for p in tmp.iterdir():
                    if p.name != LOCK:
                        shutil.rmtree(p) if p.is_dir() else p.unlink()
                logger.info("--overwrite: the stopped run's folder %s starts afresh", tmp)
        return tmp

    tmp = on_root(comm, make)
    ok = keep = interrupted = False
    try:
        yield tmp
        ok = True
    except keep_on:
        keep = True
        raise
    except BaseException as exc:
        keep = resumable
        interrupted = isinstance(exc, KeyboardInterrupt)
        if resumable and comm.rank == 0 and any(tmp.iterdir()):
            if (tmp / "checkpoint").is_dir():
                logger.warning("warning: the run stopped; its folder %s is kept with the last "
                               "checkpoint: the same command goes on from it", tmp)
            else:  # e.g. an input error in the dynamics' set-up: nothing to go on from
                logger.warning("warning: the run stopped before its first checkpoint; its folder %s "
                               "is kept as it is: the same command starts afresh", tmp)
        raise
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
                (tmp / LOCK).unlink(missing_ok=True)
                tmp.rename(path)
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
            elif not keep:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                (tmp / LOCK).unlink(missing_ok=True)
        elif interrupted and not keep:
            # A signal reaches the ranks one by one; rank 0 may sit in a collective call, where
            # Python cannot act on it, until this rank's abort ends it: clean up from here too.
            shutil.rmtree(tmp, ignore_errors=True)
        if ok:
            comm.Barrier()


LOCK = "run.lock"


def take_lock(folder: Path, shown: Path) -> None:
    """A resumable folder is one run's: the lock file names the process holding it (host and
    pid); a second run into the same result folder is refused while that process lives (two
    runs would destroy each other's checkpoint), a lock of a dead process is taken over."""
    import json
    import socket

    lock = folder / LOCK
    me = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        with open(lock, "x") as fh:
            json.dump(me, fh)
        return
    except FileExistsError:
        pass
    try:
        held = json.loads(lock.read_text())
    except (OSError, ValueError):
        held = {}
    alive = held.get("host") == me["host"] and _alive(int(held.get("pid", -1)))
    if alive or (held.get("host") not in (None, me["host"])):
        raise OutputError(f"output folder {str(shown)!r} is in use by another run (process "
                          f"{held.get('pid')} on {held.get('host')}, lock {lock}); wait for it or write "
                          "to another folder (delete the lock only if that run is gone)")
    lock.write_text(json.dumps(me))  # the holder is gone: its checkpoint is this run's now


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ParaView names of the fields with a charge-current drive (SI units in the names); the
# normalised mode keeps the plain names.
SI_NAMES = {"m": "m_A_per_m", "M": "M_over_M0", "T": "T_A_per_m_s", "abs_m": "abs_m_A_per_m",
            "J": "J_A_per_s", "B_sd": "B_sd_T", "V": "V_volt", "j_e": "j_e_A_per_m2"}
# Fields a case may pick with output.fields, all by default (m is always written; region tags,
# V and j_e come with a mesh file and a solved current).
FIELDS = ("m", "M", "T", "abs_m", "J", "B_sd")


def field_name(key: str, si: bool) -> str:
    return SI_NAMES.get(key, key) if si else key


def nodal_average(expr, space: dolfinx.fem.FunctionSpace, name: str, chunk: int = 100_000
                  ) -> dolfinx.fem.Function:
    """A discontinuous expression (e.g. J, which has grad m) on a continuous Lagrange space:
    evaluated at each cell's nodes and averaged over the cells sharing a node, on every rank.

    One continuous field instead of a discontinuous one: about a tenth of the bytes of a DG
    field for P2 tetrahedra, on the same nodes as m (one file), and what ParaView shows anyway."""
    mesh = space.mesh
    f = dolfinx.fem.Function(space, name=name)
    degree = space.element.basix_element.degree
    count = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", degree)))
    bs = space.dofmap.index_map_bs
    nnodes = f.x.array.size // bs
    ncells = mesh.topology.index_map(mesh.topology.dim).size_local
    e = dolfinx.fem.Expression(expr, space.element.interpolation_points)
    sums = np.zeros((nnodes, bs))
    for c0 in range(0, ncells, chunk):  # chunks bound the memory of the cell-wise values
        cells = np.arange(c0, min(c0 + chunk, ncells), dtype=np.int32)
        vals = e.eval(mesh, cells).reshape(len(cells) * space.dofmap.dof_layout.num_dofs, bs)
        nodes = space.dofmap.list[cells].ravel()
        for k in range(bs):
            sums[:, k] += np.bincount(nodes, weights=vals[:, k], minlength=nnodes)
    f.x.array[:] = sums.ravel()
    dofs = count.function_space.dofmap.list[:ncells].ravel()
    count.x.array[:] = np.bincount(dofs, minlength=count.x.array.size)
    for g in (f, count):  # contributions of the other ranks' cells to shared nodes
        g.x.scatter_reverse(dolfinx.la.InsertMode.add)
        g.x.scatter_forward()
    n = np.maximum(count.x.array, 1.0)
    f.x.array[:] = (f.x.array.reshape(-1, bs) / n[: nnodes, None]).ravel()
    return f


def derived_fields(problem, si: bool = False, which=FIELDS) -> dict[str, dolfinx.fem.Function]:
    """m and the `which` of M, T, |m|, J (3x3, averaged to the nodes), B_sd on the Lagrange space
    of m; region tags (DG0); with a solved current V (P1) and j_e (P1, averaged). `si`: name them
    with their SI units (charge-current drive)."""
    V, m = problem.V, problem.m
    mesh = V.mesh
    deg = problem.degree
    gdim = mesh.geometry.dim
    fields = {"m": m}

    def project(expr, space, name):
        f = dolfinx.fem.Function(space, name=name)
        f.interpolate(dolfinx.fem.Expression(expr, space.element.interpolation_points))
        f.x.scatter_forward()
        return f

    if "M" in which:
        fields["M"] = problem.M
    if "T" in which:
        fields["T"] = project(problem.torque(), V, "T")
    if "abs_m" in which:
        fields["abs_m"] = project(ufl.sqrt(ufl.dot(m, m)), dolfinx.fem.functionspace(mesh, ("Lagrange", deg)),
                                  "abs_m")
    if "J" in which:
        J = problem.spin_current()  # shape (3, gdim): pad to 3x3 for ParaView
        J3 = ufl.as_matrix([[J[k, j] if j < gdim else 0.0 for j in range(3)] for k in range(3)])
        fields["J"] = nodal_average(J3, dolfinx.fem.functionspace(mesh, ("Lagrange", deg, (3, 3))), "J")
    B_sd = problem.coef.sd_field(m) if "B_sd" in which else None
    if B_sd is not None:
        fields["B_sd"] = project(B_sd, V, "B_sd")
    tags = problem.domain.cell_tags
    if tags is not None and problem.domain.cells:  # region tags (ParaView: Threshold by region)
        R = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0)), name="region")
        R.x.array[R.function_space.dofmap.list[tags.indices, 0]] = tags.values
        R.x.scatter_forward()
        fields["region"] = R
    potential = getattr(problem, "potential", None)
    if potential is not None:
        fields["V"] = potential.V
        P1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,)))
        fields["j_e"] = nodal_average(potential.j, P1, "j_e")
    for key, f in fields.items():
        f.name = field_name(key, si)
    return fields


def paraview_groups(fields: dict[str, dolfinx.fem.Function]) -> dict[str, tuple[list, list]]:
    """File name -> (point fields, cell fields): the fields on the mesh of m in one file, the
    solved potential (P1) in another."""
    point = [fields[k] for k in ("m", "M", "T", "B_sd", "abs_m", "J") if k in fields]
    cell = [fields["region"]] if "region" in fields else []
    groups = {"fields": (point, cell)}
    if "V" in fields:
        groups["potential"] = ([fields["V"], fields["j_e"]], cell)
    return groups


def write_paraview(folder: Path, fields: dict[str, dolfinx.fem.Function], vtx: bool = False,
                   precision: str = "double") -> list[Path]:
    """Binary compressed VTK XML (.pvd -> .pvtu -> a .vtu per rank), all ranks writing; with
    `vtx` also ADIOS2 VTX (.bp) files, one per element (VTX needs one element per file)."""
    comm = fields["m"].function_space.mesh.comm
    written = []
    for name, (point, cell) in paraview_groups(fields).items():
        written.append(write_vtu(folder, name, point, cell, precision=precision))
        if vtx and dolfinx.common.has_adios2:
            by_element: dict[tuple, list] = {}
            for f in point:
                by_element.setdefault((f.function_space.dofmap.index_map_bs, f.ufl_shape), []).append(f)
            for i, funcs in enumerate(by_element.values()):
                path = folder / (f"{name}.bp" if i == 0 else f"{name}_{funcs[0].name}.bp")
                with dolfinx.io.VTXWriter(comm, path, funcs, engine="BP4") as w:
                    w.write(0.0)
                written.append(path)
    return written


def sample(u: dolfinx.fem.Function, points: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray | None:
    """Values of u at points (N, 3), gathered on rank 0 (None on other ranks).

    Points outside the mesh (or outside `cells`, local cell indices, when given) give NaN. A
    point on a partition boundary is taken from the lowest rank that finds it, so 1 and N
    ranks give the same answer.
    """
    mesh = u.function_space.mesh
    comm = mesh.comm
    tdim = mesh.topology.dim
    ncells = mesh.topology.index_map(tdim).size_local
    entities = np.arange(ncells, dtype=np.int32) if cells is None else \
        np.asarray(cells, dtype=np.int32)[np.asarray(cells) < ncells]
    tree = dolfinx.geometry.bb_tree(mesh, tdim, entities=entities)
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
