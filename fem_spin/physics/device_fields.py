"""The magnetostatic fields of a device, for its LLG: computed on an air-embedded twin of the
device (the same geometry inside an air ball and a shell, fem_spin.geometry.air) and carried
to the device mesh's nodes.

The device mesh holds only conductors (the electrons live there); the demagnetizing field
needs the space around the magnets. So the device's geometry file is meshed a second time with
the air and shell added (`twin_domain`; a .msh keeps its cells and gets the air meshed around
them, so there the magnets' nodes coincide), and P1 fields cross between the two meshes by DOLFINx's
non-matching interpolation (point location, in parallel): u from the device to the twin's
magnets, H_d back to the device's magnet nodes. Flat faces are meshed the same in both, so
their nodes coincide; on curved faces the two facetings differ by O(h^2).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fem_spin._backend import MPI, PETSc, dolfinx
from fem_spin.physics.groups import group_nodes
from fem_spin.progress import logger

MU0 = 4e-7 * np.pi
DYNAMICS_DEMAG_RTOL = 1e-5  # the LLG's demag solves (DeviceDemag), relative to the right side
# FEM-BEM's phi1 (Neumann): at 1e-5 its error left SP4's relaxation bouncing at 1e-4 T of torque
# (195 steps instead of 42 to 1e-5 T); 1e-8 costs 6% more a dynamics step (its mesh is small)
FEMBEM_DYNAMICS_RTOL = 1e-8


class Transfer:
    """A P1 vector field from one mesh onto the nodes of chosen cells of another (non-matching
    meshes; the other nodes get 0). The meshes do not move, so the map is a matrix, built once:
    each target node is located in a source cell (DOLFINx's point ownership, in parallel) and
    its row holds that cell's P1 basis functions at the node. A transfer is then one sparse
    product (SP4's film: 2 ms instead of 25 ms for DOLFINx's interpolate_nonmatching, which
    locates and evaluates afresh each time). Affine tetrahedra; other cells take that path."""

    def __init__(self, V_to, V_from, cells_to: np.ndarray, padding: float):
        self.cells = np.asarray(cells_to, dtype=np.int32)
        self.T = None
        mesh = V_from.mesh
        affine = mesh.topology.cell_name() == "tetrahedron" and mesh.geometry.cmaps[0].degree == 1 and \
            V_to.mesh.topology.cell_name() == "tetrahedron" and all(
                V.element.basix_element.degree == 1 for V in (V_to, V_from))
        if not affine:
            self.data = dolfinx.fem.create_interpolation_data(V_to, V_from, self.cells, padding=padding)
            return
        self.T = self._matrix(V_to, V_from, padding)

    def _matrix(self, V_to, V_from, padding: float) -> PETSc.Mat:
        comm = V_from.mesh.comm
        imap_to, imap_from = V_to.dofmap.index_map, V_from.dofmap.index_map
        bs = V_to.dofmap.index_map_bs
        # each owned target node once, also one whose group cells are all on other ranks
        nodes = np.flatnonzero(group_nodes(V_to, self.cells)[: imap_to.size_local]).astype(np.int32)
        points = V_to.tabulate_dof_coordinates()[nodes]
        found = dolfinx.geometry.determine_point_ownership(V_from.mesh, points, padding)
        # Each rank learns which target rows the points it was sent belong to: sent in the
        # order the ownership data uses (by owner rank, then point order), with the points to check
        owner = np.asarray(found.src_owner)
        order = np.argsort(owner, kind="stable")
        order = order[owner[order] >= 0]  # nodes in no source cell keep the value 0
        counts = np.bincount(owner[order], minlength=comm.size)
        rows = imap_to.local_to_global(nodes[order].astype(np.int32)).astype(np.int64)
        recv = np.asarray(comm.alltoall(counts.tolist()))
        got_rows = np.empty(int(recv.sum()), dtype=np.int64)
        comm.Alltoallv([rows, counts], [got_rows, recv])
        got_points = np.empty((int(recv.sum()), 3))
        comm.Alltoallv([np.ascontiguousarray(points[order]), counts * 3], [got_points, recv * 3])
        dest_points = np.asarray(found.dest_points).reshape(-1, 3)
        if not np.array_equal(got_points, dest_points):
            raise RuntimeError("Transfer: the point ownership data is not in the order assumed")
        # P1 weights of each point in its cell: barycentric coordinates
        cells = np.asarray(found.dest_cells, dtype=np.int32)
        X = V_from.mesh.geometry.x[V_from.mesh.geometry.dofmaps[0][cells]]  # (n, 4, 3)
        E = (X[:, 1:] - X[:, :1]).transpose(0, 2, 1)  # columns: the edges from vertex 0
        xi = np.linalg.solve(E, (dest_points - X[:, 0])[:, :, None])[:, :, 0] if len(cells) else \
            np.zeros((0, 3))
        w = np.hstack([1.0 - xi.sum(axis=1, keepdims=True), xi])  # (n, 4)
        cols = imap_from.local_to_global(V_from.dofmap.list[cells].reshape(-1)).reshape(-1, 4)
        comp = np.arange(bs)
        i = (bs * got_rows[:, None, None] + comp[None, None, :]) + 0 * cols[:, :, None]
        j = bs * cols[:, :, None].astype(np.int64) + comp[None, None, :]
        v = np.broadcast_to(w[:, :, None], i.shape)
        T = PETSc.Mat().create(comm)
        T.setSizes(((bs * imap_to.size_local, None), (bs * imap_from.size_local, None)))
        T.setType("aij")
        T.setPreallocationCOO(i.reshape(-1).astype(PETSc.IntType), j.reshape(-1).astype(PETSc.IntType))
        T.setValuesCOO(np.ascontiguousarray(v).reshape(-1), addv=PETSc.InsertMode.ADD_VALUES)
        T.assemble()
        return T

    def __call__(self, f_to, f_from) -> None:
        if self.T is None:
            f_to.interpolate_nonmatching(f_from, self.cells, self.data)
        else:
            self.T.mult(f_from.x.petsc_vec, f_to.x.petsc_vec)
        f_to.x.scatter_forward()

    def destroy(self) -> None:
        if self.T is not None:
            self.T.destroy()


def region_cells(domain, names) -> np.ndarray:
    """The cells (local + ghost) of a Domain's named regions."""
    return np.unique(np.concatenate([domain.cell_tags.find(domain.cells[n]) for n in names])).astype(np.int32)


def owned(mesh, cells: np.ndarray) -> np.ndarray:
    """The owned ones of local cell indices (where a non-matching interpolation writes)."""
    return cells[cells < mesh.topology.index_map(mesh.topology.dim).size_local]


def twin_domain(path: Path, parameters: Mapping[str, float] | None, box, comm):
    """The device inside the air ball and shell of `box` (fem_spin.geometry.air.AirBox): a
    .geo is meshed again with them, a .msh keeps its cells and gets them meshed around it;
    the device's regions keep their names; `air` and `shell` are added."""
    from fem_spin.geometry.air import embed, embed_mesh
    from fem_spin.geometry.mesh import load_gmsh_file, mesh_model

    def add(gmsh) -> None:
        load_gmsh_file(gmsh, path, dict(parameters or {}))
        (embed_mesh if Path(path).suffix.lower() == ".msh" else embed)(gmsh, box)

    dom = mesh_model(comm, add, gdim=3)
    dom.info.update(kind="embedded", dim=3, R1=box.R1, R2=box.R2, center=tuple(box.center))
    return dom


def largest_norm(f) -> float:
    """The largest |f| over a P1 vector field's nodes, all ranks (e.g. the Oersted field's peak)."""
    n = f.function_space.dofmap.index_map.size_local
    x = f.x.array.reshape(-1, f.function_space.dofmap.index_map_bs)[:n]
    return f.function_space.mesh.comm.allreduce(float(np.max(np.linalg.norm(x, axis=1), initial=0.0)),
                                                op=MPI.MAX)


def halo_pairs(V, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(halo node, inner node) pairs of a P1 space: the halo nodes are those of cells that
    touch the given cells (`cells`, local + ghost) without being in them; each is paired with
    the inner nodes it shares a cell with, once per such cell. Only owned cells give pairs
    and `inner` is the group's nodes on every rank (groups.group_nodes), so the pairs are those
    of the whole mesh whatever its partition."""
    dofs = V.dofmap.list
    inner = group_nodes(V, cells)
    mine = np.zeros(len(dofs), dtype=bool)
    mine[cells] = True
    mine[V.mesh.topology.index_map(V.mesh.topology.dim).size_local:] = True  # ghosts: their owner's
    touching = dofs[~mine & inner[dofs].any(axis=1)]
    halo, near = [], []
    for row in touching:
        for a in row[~inner[row]]:
            for b in row[inner[row]]:
                halo.append(a)
                near.append(b)
    return np.asarray(halo, dtype=np.int32), np.asarray(near, dtype=np.int32)


def extend(f, halo: np.ndarray, near: np.ndarray) -> None:
    """f (P1 vector, 0 outside a region) at the region's halo nodes := the mean of the region's
    nodes next to them: a node of the other mesh just outside this one's faceting of a curved
    face then reads the region's field, not its blend with the outside's zero. The sums and
    counts of every rank's pairs meet at the halo node's owner (a reverse scatter)."""
    V = f.function_space
    imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    sums, count = dolfinx.la.vector(imap, bs), dolfinx.la.vector(imap, 1)
    sums.array[:] = 0.0
    count.array[:] = 0.0
    x = f.x.array.reshape(-1, bs)
    np.add.at(sums.array.reshape(-1, bs), halo, x[near])
    np.add.at(count.array, halo, 1.0)
    for v in (sums, count):
        v.scatter_reverse(dolfinx.la.InsertMode.add)
    owned = imap.size_local
    c = count.array[:owned]
    sel = c > 0
    x[:owned][sel] = sums.array[: owned * bs].reshape(-1, bs)[sel] / c[sel, None]
    f.x.scatter_forward()


def magnet_submesh(mesh, device_cells: Mapping[str, np.ndarray]):
    """The mesh of the magnets alone (their cells of the device mesh, the same nodes) and its
    cell tags: (submesh, meshtags, {region: tag}), the tags 1, 2, ... in the regions' order."""
    n = mesh.topology.index_map(mesh.topology.dim).size_local
    cells = np.unique(np.concatenate([np.asarray(c) for c in device_cells.values()]))
    sub, cell_map, _, _ = dolfinx.mesh.create_submesh(mesh, mesh.topology.dim, cells[cells < n].astype(np.int32))
    tdim = sub.topology.dim
    n_sub = sub.topology.index_map(tdim).size_local + sub.topology.index_map(tdim).num_ghosts
    parent = cell_map.sub_topology_to_topology(np.arange(n_sub, dtype=np.int32), inverse=False)
    values = np.zeros(n_sub, dtype=np.int32)
    tags = {}
    for k, (name, c) in enumerate(device_cells.items(), start=1):
        values[np.isin(parent, c)] = k
        tags[name] = k
    return sub, dolfinx.mesh.meshtags(sub, tdim, np.arange(n_sub, dtype=np.int32), values), tags


class DeviceDemag:
    """B_d = mu0 H_d [T] of the device's magnets at the device's P1 nodes.

    Args:
        mesh: the device mesh (the LLG's).
        device_cells: {region: cells of the device mesh (local + ghost)} of every magnet.
        twin: the twin Domain (`twin_domain`) of the shell transformation; None for "fembem".
        Ms: {region: Ms [A/m]} of every magnet (held ones too: their field acts on the others).
        padding: point-location tolerance [nm] between the two facetings.
        method: "shell" (magnetostatics.DemagField on the twin) or "fembem"
            (fembem.FredkinKoehler on the magnets' own cells: no twin, the nodes are the device's).
        **demag: the method's keyword arguments.
    """

    def __init__(self, mesh, device_cells: Mapping[str, np.ndarray], twin, Ms: Mapping[str, float],
                 padding: float = 1e-6, method: str = "shell", **demag):
        U = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,)))  # the LLG's layout
        # Each evaluation starts from the last potential, a step away: 1e-5 of the right side
        # is 7 CG iterations instead of 17 at 1e-8 and moves B_d by 3e-6 T of 0.5 T (SP4's film
        # at 3 nm, docs/magnetostatics.md); the command line's -fem_spin_demagN_ksp_rtol wins
        rtol = FEMBEM_DYNAMICS_RTOL if method == "fembem" else DYNAMICS_DEMAG_RTOL
        demag["petsc_options"] = {"ksp_rtol": rtol, **demag.get("petsc_options", {})}
        if method == "fembem":
            from fem_spin.physics.fembem import FredkinKoehler

            sub, sub_tags, tags = magnet_submesh(mesh, device_cells)
            self.field = FredkinKoehler(sub, sub_tags, {tags[n]: ms for n, ms in Ms.items()}, **demag)
            n_sub = sub.topology.index_map(3).size_local
            field_cells, self._halo = np.arange(n_sub, dtype=np.int32), None
            where = f"FEM-BEM on their own {sub.topology.index_map(3).size_global} cells"
        elif method == "shell":
            from fem_spin.physics.magnetostatics import DemagField

            self.field = DemagField.from_domain(twin, dict(Ms), **demag)
            field_cells = region_cells(twin, Ms)
            self._halo = halo_pairs(self.field.U, field_cells)
            field_cells = owned(twin.mesh, field_cells)
            where = f"an air-embedded twin of {twin.mesh.topology.index_map(3).size_global} cells"
        else:
            raise ValueError(f"demag method must be 'shell' or 'fembem', got {method!r}")
        self.method = method
        F = self.field.U
        cells = np.unique(np.concatenate([np.asarray(c) for c in device_cells.values()]))
        self._to_twin = Transfer(F, U, field_cells, padding)
        self._to_device = Transfer(U, F, owned(U.mesh, cells), padding)
        self.B = dolfinx.fem.Function(U, name="B_demag")
        self.Ms = dict(Ms)
        self._u = dolfinx.fem.Function(F, name="u")
        self._H = dolfinx.fem.Function(U)
        self._Hx = dolfinx.fem.Function(F, name="H_extended")
        self.evaluations = 0
        self.extrapolate = True  # consecutive calls are the LLG's steps (tensor() is not)
        logger.info("demag: the magnets %s, %s", ", ".join(Ms), where)

    def __call__(self, u) -> dolfinx.fem.Function:
        """B_d [T] of the device direction u (P1 on the device) at the device's magnet nodes
        (0 at the others)."""
        self._to_twin(self._u, u)
        H = self.field.compute(self._u, extrapolate=self.extrapolate)
        self._Hx.x.array[:] = H.x.array
        if self._halo is not None:  # the twin's faceting of a curved face is not the device's
            extend(self._Hx, *self._halo)
        self._to_device(self._H, self._Hx)
        self.B.x.array[:] = MU0 * self._H.x.array
        self.B.x.scatter_forward()
        self.evaluations += 1
        return self.B

    def tensor(self) -> np.ndarray:
        """The magnets' magnetometric demagnetizing tensor N (3 x 3, symmetric, trace about 1):
        -<H_d>/Ms of u = e_x, e_y, e_z in every magnet together (three solves; Ms the largest).
        The relaxation's preconditioner (LLG): -mu0 Ms N u is the local part of B_d."""
        ms = max(self.Ms.values())
        cols = []
        for e in np.eye(3):
            self.field.compute(lambda x, e=e: np.tile(e[:, None], (1, x.shape[1])))
            cols.append(-self.field.average() / ms)
        N = np.array(cols).T
        return 0.5 * (N + N.T)

    def energy(self) -> float:
        """E_d = -(mu0/2) int M.H_d [J] of the last evaluation (from phi)."""
        return self.field.energy()

    @property
    def timings(self) -> dict:
        return self.field.timings

    def destroy(self) -> None:
        self.field.destroy()
        self._to_twin.destroy()
        self._to_device.destroy()


class DeviceOersted:
    """B_Oe [T] of the device's charge current at its magnets' P1 nodes (the current is
    steady: computed once). j_e crosses to the twin as cell values (DG0), B back as P1.

    Args:
        mesh: the device mesh.
        magnet_cells: {region: cells (local + ghost)} of the magnets where B is wanted.
        twin: the twin Domain (`twin_domain`).
        conductors: the regions that carry the current (every device region).
        j: the current density [A/m^2]: a 3-vector (uniform drive) or a UFL expression on the
            device mesh (the solved potential's -sigma grad V).
    """

    def __init__(self, mesh, magnet_cells: Mapping[str, np.ndarray], twin, conductors, j,
                 padding: float = 1e-6):
        from fem_spin.physics.magnetostatics import OerstedField

        W = dolfinx.fem.functionspace(mesh, ("DG", 0, (3,)))
        jd = dolfinx.fem.Function(W)
        if isinstance(j, np.ndarray):
            jd.x.array.reshape(-1, 3)[:] = j
        else:
            jd.interpolate(dolfinx.fem.Expression(j, W.element.interpolation_points))
        jd.x.scatter_forward()
        Wt = dolfinx.fem.functionspace(twin.mesh, ("DG", 0, (3,)))
        jt = dolfinx.fem.Function(Wt, name="j_e")
        Transfer(Wt, W, owned(twin.mesh, region_cells(twin, conductors)), padding)(jt, jd)
        field = OerstedField.from_domain(twin, list(conductors))
        magnets = list(magnet_cells)
        Bt = field.compute(j=jt, cells=[twin.cells[n] for n in magnets])
        Bx = dolfinx.fem.Function(Bt.function_space)
        Bx.x.array[:] = Bt.x.array
        extend(Bx, *halo_pairs(Bx.function_space, region_cells(twin, magnets)))
        U = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,)))
        self.B = dolfinx.fem.Function(U, name="B_oersted")
        cells = np.unique(np.concatenate([np.asarray(c) for c in magnet_cells.values()]))
        back = Transfer(U, Bx.function_space, owned(mesh, cells), padding)
        back(self.B, Bx)
        back.destroy()
        self.net_current = field.net_current
        field.destroy()
        peak = self.peak_T = largest_norm(self.B)
        logger.info("Oersted field of the charge current in the magnets %s: up to %.3g mT",
                    ", ".join(magnets), 1e3 * peak)
