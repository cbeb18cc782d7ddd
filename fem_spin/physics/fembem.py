"""The demagnetizing field by the hybrid FEM-BEM method of Fredkin and Koehler (IEEE Trans. Magn.
26, 415 (1990)): only the magnets are meshed, the condition at infinity is a boundary integral.

phi = phi1 + phi2, both P1 on the magnets' mesh D:
  1. phi1 solves the Neumann problem (grad phi1, grad v)_D = (M, grad v)_D: the potential of the
     magnets' volume and surface charges with phi1's normal derivative M.n at the surface and
     no exterior (defined up to a constant, which the next step takes out again);
  2. phi2 is harmonic in D and outside, continuous, with the jump of its normal derivative
     that makes phi decay at infinity; on the surface it is the double layer potential of phi1,
         phi2(x) = (1/4pi) int_dD phi1(y) (x - y).n(y)/|x - y|^3 dS(y) + (Omega(x)/4pi - 1) phi1(x),
     Omega(x) the solid angle of D at x: a dense matrix B (the boundary nodes' values of phi2
     from phi1's), built once with Lindholm's closed form of a linear function's double layer
     over a flat triangle (IEEE Trans. Magn. 20, 2025 (1984)), which is exact;
  3. phi2 inside is the harmonic extension of those values (a Dirichlet solve; none when every
     node is on the surface, as in a film one cell thick).
H = -grad phi, as P1 by the L2 projection of the magnetostatics module. A constant phi1 = c on
a closed surface gives phi2 = -c (B's rows sum to -1): the result does not depend on phi1's
constant, one per connected magnet.

Against the shell transformation (magnetostatics.ShellPoisson) there is no air to mesh, so no
air cells, no mapping and P1 suffices (the field is discontinuous at the surface only, where the
magnet's mesh ends); the price is B, N_b^2 numbers for N_b surface nodes, and its product each
evaluation. docs/magnetostatics.md compares the two on the sphere and SP4's film.

Units as the magnetostatics module: nm, A/m, phi in A/m * nm.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from fem_spin._backend import MPI, PETSc, dolfinx, ufl
from fem_spin.io.case import InputError
from fem_spin.parallel import one_blas_thread_per_rank
from fem_spin.physics.magnetostatics import CellProjection, Magnetization, _counters
from fem_spin.progress import logger
from fem_spin.solvers.linear import SolverError, prefixed_ksp, reason_name

# phi1's Neumann problem and phi2's Dirichlet one: CG + GAMG as the shell's Poisson solves.
# The Neumann matrix is singular (the constants): PETSc takes them out of the right side and the
# iterates (MatNullSpace); the coarse level's LU gets a shift so a singular coarse matrix factors.
DEFAULT_OPTIONS: dict[str, object] = {"ksp_type": "cg", "pc_type": "gamg", "mg_levels_pc_type": "sor",
                                      "mg_levels_ksp_max_it": 1, "ksp_rtol": 1e-8, "ksp_max_it": 500,
                                      "mg_coarse_sub_pc_factor_shift_type": "nonzero"}
# Pairs of a surface node and a triangle whose plane holds the node add nothing (the kernel's
# (x - y).n is 0): skipped, below this height over the plane relative to the triangle's size.
COPLANAR = 1e-9
PAIRS_PER_CHUNK = 500_000  # kernel values per block of rows (4 MB arrays)
LINDHOLM_CHUNK = 4096
NEAR = 4.0
PLANE_SHARE = 0.02  # a flat face this large a share of the triangles is skipped by its nodes


def lindholm(x: np.ndarray, tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Double layer weights of pairs (point x_k, triangle T_k): L (n, 3) with
    L_i = (1/4pi) int_T N_i(y) (x - y).n/|x - y|^3 dS(y) for T's linear hat functions N_i, and
    the signed solid angle Omega (n,) of T seen from x (positive on the side n points away
    from), n = (y2 - y1) x (y3 - y1)/|..| of T's vertex order. x (n, 3), tri (n, 3, 3).
    Lindholm (1984): L_i = s_(i+1)/(8 pi A) (eta_(i+1) Omega - zeta sum_j gamma_(i+1)j P_j) with
    the edge lengths s, area A, the height zeta of x over T, the distances eta of its
    projection to the edges, gamma the edge directions' cosines and P_j the edges' log terms;
    Omega by van Oosterom and Strackee's formula."""
    # componentwise (arrays of n): 4x faster than einsum and cross over axes of length 3
    def sub(a, b):
        return (a[0] - b[0], a[1] - b[1], a[2] - b[2])

    def dot(a, b):
        return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]

    def cross(a, b):
        return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])

    X = tuple(x[:, k] for k in range(3))
    rho = [sub(tuple(tri[:, i, k] for k in range(3)), X) for i in range(3)]  # vertices from x
    r = [np.sqrt(dot(v, v)) for v in rho]
    e = [sub(rho[(i + 1) % 3], rho[i]) for i in range(3)]  # edge i: vertex i -> i + 1
    s = [np.sqrt(dot(v, v)) for v in e]
    xi = [tuple(c / s[i] for c in e[i]) for i in range(3)]
    normal = cross(e[0], sub(rho[2], rho[0]))
    area2 = np.sqrt(dot(normal, normal))
    zeta = tuple(c / area2 for c in normal)
    height = dot(rho[0], zeta)
    dist = [dot(rho[i], cross(zeta, xi[i])) for i in range(3)]  # eta_i . rho_i
    P = [np.log((r[i] + r[(i + 1) % 3] + s[i]) / (r[i] + r[(i + 1) % 3] - s[i])) for i in range(3)]
    triple = dot(rho[0], cross(rho[1], rho[2]))
    omega = 2.0 * np.arctan2(triple, r[0] * r[1] * r[2] + r[0] * dot(rho[1], rho[2])
                             + r[1] * dot(rho[0], rho[2]) + r[2] * dot(rho[0], rho[1]))
    L = np.empty((len(x), 3))
    for i in range(3):
        j = (i + 1) % 3  # gamma_(i+1)k = xi_(i+1) . xi_k
        gP = dot(xi[j], xi[0]) * P[0] + dot(xi[j], xi[1]) * P[1] + dot(xi[j], xi[2]) * P[2]
        L[:, i] = s[j] / (4.0 * np.pi * area2) * (dist[j] * omega - height * gP)
    return L, omega


def _planes(points: np.ndarray, tri: np.ndarray, unit: np.ndarray, scale: float
            ) -> tuple[list[np.ndarray], np.ndarray]:
    """The large flat faces of a surface: the triangles of each plane holding at least
    PLANE_SHARE of them, and for each point the largest such plane it lies on (-1: none)."""
    offset = np.einsum("tk,tk->t", unit, tri[:, 0])
    keys = np.column_stack([np.round(unit / 1e-6), np.round(offset / (1e-6 * scale))]).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    big = [k for k in np.argsort(-counts) if counts[k] >= max(PLANE_SHARE * len(tri), 16)]
    home = np.full(len(points), -1)
    members = []
    for g, k in enumerate(big):
        members.append(np.nonzero(inverse == k)[0])
        t0 = members[-1][0]
        on = np.abs(points @ unit[t0] - offset[t0]) <= 1e-6 * scale
        home[on & (home < 0)] = g  # the planes are taken largest first
    return members, home


def double_layer_rows(points: np.ndarray, point_cols: np.ndarray, tri: np.ndarray, tri_cols: np.ndarray,
                      n_cols: int, near: float = NEAR) -> np.ndarray:
    """The rows of B for surface nodes `points` (m, 3) (their columns `point_cols`) over the
    closed surface of triangles `tri` (T, 3, 3), outward vertex order, whose vertices are the
    columns `tri_cols` (T, 3) of n_cols surface nodes: (m, n_cols).

    A triangle nearer a node than `near` times its longest edge (centroid to node) gets
    Lindholm's exact weights; a farther one the edge-midpoint rule (degree 2: three kernel
    values as dense products in single precision instead of a pass per pair), whose error falls
    as (edge/distance)^3: B within 2e-5 of the exact one at `near` = 4 (docs/magnetostatics.md).
    A node on a large flat face skips that face's triangles (they add 0: (x - y).n = 0), half
    of a film's. The diagonal makes each row sum to -1: the interior's solid angle at the node
    is the sum of the triangles' as the row sees them, so a constant phi1 is taken out exactly."""
    c = tri.reshape(-1, 3).mean(axis=0)  # centred: |x|^2 + |y|^2 - 2 x.y loses less
    tri, points = tri - c, points - c
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area2 = np.linalg.norm(normal, axis=1)
    unit = normal / area2[:, None]
    edge = np.linalg.norm(np.roll(tri, -1, axis=1) - tri, axis=2).max(axis=1)
    scale = float(np.abs(tri).max(initial=1.0))
    members, home = _planes(points, tri, unit, scale)
    B = np.empty((len(points), n_cols))
    for g in range(-1, len(members)):
        rows = np.nonzero(home == g)[0]
        if not len(rows):
            continue
        keep = np.ones(len(tri), bool)
        if g >= 0:
            keep[members[g]] = False
        sel = np.nonzero(keep)[0]
        T = len(sel)
        f32 = np.float32
        mid = (0.5 * (tri[sel] + np.roll(tri[sel], -1, axis=1))).reshape(-1, 3)  # edge e's: 3 t + e
        w = np.repeat(area2[sel] / 6.0, 3) * (0.5 / (4.0 * np.pi))  # A/3 each, half to each end
        wn = (np.repeat(unit[sel], 3, axis=0) * w[:, None]).astype(f32)
        w_off = np.einsum("qk,qk->q", wn, mid).astype(f32)
        mid_sq = np.einsum("qk,qk->q", mid, mid).astype(f32)
        mid32 = mid.astype(f32)
        centroid = tri[sel].mean(axis=1)
        cen_sq = np.einsum("tk,tk->t", centroid, centroid).astype(f32)
        cen32 = centroid.astype(f32)
        reach = ((near * edge[sel]) ** 2).astype(f32)
        flat = tri_cols[sel].reshape(-1)
        order = np.argsort(flat, kind="stable")
        cols, starts = np.unique(flat[order], return_index=True)
        step = max(1, PAIRS_PER_CHUNK // max(3 * T, 1))
        for start in range(0, len(rows), step):
            r = rows[start:start + step]
            x = points[r]
            m = len(r)
            x32 = x.astype(f32)
            x_sq = np.einsum("pk,pk->p", x, x).astype(f32)
            r3 = x32 @ mid32.T
            r3 *= -2.0
            r3 += mid_sq[None, :]
            r3 += x_sq[:, None]
            np.maximum(r3, f32(1e-30), out=r3)
            r3 *= np.sqrt(r3)
            K = x32 @ wn.T
            K -= w_off[None, :]
            K /= r3
            K = K.reshape(m, T, 3)
            C = K.copy()  # vertex k lies on edges k and k - 1
            C[:, :, 1:] += K[:, :, :2]
            C[:, :, 0] += K[:, :, 2]
            d2 = x32 @ cen32.T
            d2 *= -2.0
            d2 += cen_sq[None, :]
            d2 += x_sq[:, None]
            p, t = np.nonzero(d2 < reach[None, :])
            exact = np.empty((len(p), 3))
            with np.errstate(divide="ignore", invalid="ignore"):  # a node's own triangles: 0 below
                for k in range(0, len(p), LINDHOLM_CHUNK):  # arrays that stay in the cache: 8x faster
                    exact[k:k + LINDHOLM_CHUNK] = lindholm(x[p[k:k + LINDHOLM_CHUNK]],
                                                           tri[sel[t[k:k + LINDHOLM_CHUNK]]])[0]
            height = np.einsum("nk,nk->n", x[p] - tri[sel[t], 0], unit[sel[t]])
            exact[np.abs(height) <= COPLANAR * edge[sel[t]]] = 0.0  # in T's plane: (x - y).n = 0
            C[p, t] = exact
            block = np.zeros((m, n_cols))
            block[:, cols] = np.add.reduceat(C.reshape(m, 3 * T)[:, order], starts, axis=1, dtype=np.float64)
            diag = point_cols[r]
            block[np.arange(m), diag] = 0.0
            block[np.arange(m), diag] = -1.0 - block.sum(axis=1)
            B[r] = block
    if not np.isfinite(B).all():
        raise FloatingPointError("double_layer_rows: a non-finite weight (a degenerate surface triangle?)")
    return B


class FredkinKoehler:
    """H_d = -grad phi of M = Ms u in the magnets by FEM-BEM (module docstring), on a mesh of
    the magnets (3D tetrahedra; cells without a magnet's tag are in D with M = 0).

    Args:
        mesh, cell_tags: the mesh (nm) and its cell tags.
        magnets: {tag: Ms [A/m]}.
        projection: "l2" or "lumped" (magnetostatics.CellProjection).
        petsc_options: over DEFAULT_OPTIONS for both Poisson solves, prefix `self.prefix`.
        max_bytes: the most B may take on one rank (checked before it is built).

    The interface is magnetostatics.DemagField's: compute(u, extrapolate), energy(), average(),
    u, phi, H, timings, evaluations.
    """

    def __init__(self, mesh, cell_tags, magnets: Mapping[int, float], *, projection: str = "l2",
                 petsc_options: Mapping[str, object] | None = None, max_bytes: float = 8 * 2**30,
                 name: str = "demag"):
        t0 = time.perf_counter()
        if mesh.topology.dim != 3 or mesh.topology.cell_name() != "tetrahedron":
            raise ValueError("FEM-BEM demag needs a 3D tetrahedral mesh of the magnets, got a "
                             f"{mesh.topology.dim}D {mesh.topology.cell_name()} mesh")
        self.source = Magnetization(mesh, cell_tags, magnets)
        self.mesh, self.comm = mesh, mesh.comm
        one_blas_thread_per_rank(self.comm)  # B's build and product are numpy's
        self.magnet_tags = self.source.tags
        self.U, self.u, self.Ms, self.dxm, self.M = (self.source.U, self.source.u, self.source.Ms,
                                                     self.source.dxm, self.source.M)
        self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        self.phi1 = dolfinx.fem.Function(self.V, name="phi1")
        self.phi2 = dolfinx.fem.Function(self.V, name="phi2")
        self.phi = dolfinx.fem.Function(self.V, name="phi")

        self._surface(max_bytes)
        t1 = time.perf_counter()
        self._build_B()
        self.B_s = self.comm.allreduce(time.perf_counter() - t1, op=MPI.MAX)

        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        a = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
        self.options = {**DEFAULT_OPTIONS, **(petsc_options or {})}
        self.prefix = f"fem_spin_{name}{next(_counters[name])}_"
        # phi1: the Neumann problem, its right side (M, grad v) a matrix times u's vector
        self.A1 = dolfinx.fem.petsc.assemble_matrix(a)
        self.A1.assemble()
        self.nullspace, self.components = self._null_space()
        self.A1.setNullSpace(self.nullspace)
        self.L = dolfinx.fem.petsc.assemble_matrix(dolfinx.fem.form(
            ufl.inner(self.Ms * ufl.TrialFunction(self.U), ufl.grad(v)) * self.dxm))
        self.L.assemble()
        self.b = dolfinx.fem.petsc.create_vector(self.V)
        self.ksp = self.ksp1 = prefixed_ksp(self.A1, self.prefix, self.options)
        self.ksp1.setInitialGuessNonzero(True)
        self.ksp1.setUp()
        # phi2: harmonic inside, B phi1 on the surface; nothing to solve if every node is there
        self.interior = self.comm.allreduce(self.V.dofmap.index_map.size_local - len(self.rows), op=MPI.SUM)
        self.ksp2 = None
        if self.interior:
            self._bc_values = dolfinx.fem.Function(self.V)
            self.bcs = [dolfinx.fem.dirichletbc(self._bc_values, self.surface_dofs)]
            self.A2 = dolfinx.fem.petsc.assemble_matrix(a, bcs=self.bcs)
            self.A2.assemble()
            self.A_full = dolfinx.fem.petsc.assemble_matrix(a)
            self.A_full.assemble()
            self.b2 = dolfinx.fem.petsc.create_vector(self.V)
            self.ksp2 = prefixed_ksp(self.A2, f"{self.prefix}dirichlet_", self.options)
            self.ksp2.setInitialGuessNonzero(True)
            self.ksp2.setUp()
        self.project = CellProjection(mesh, cell_tags, self.magnet_tags, -ufl.grad(self.phi), (3,), "H_d",
                                      projection, linear_in=self.phi)
        self.H = self.project.out
        self.source.bind(self.phi)
        self.volume = self.source.volume
        self._history: list[np.ndarray] = []
        self.evaluations = 0
        self.setup_s = self.comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        self.timings: dict[str, float] = {"setup_s": self.setup_s, "matrix_s": self.B_s}
        self.num_dofs = self.V.dofmap.index_map.size_global
        logger.info("demag (FEM-BEM): %d P1 DOFs, %d on the surface (B: %.3g GB), set up in %.2f s "
                    "(B %.2f s); magnets %s", self.num_dofs, self.n_surface, self.n_surface**2 * 8e-9,
                    self.setup_s, self.B_s, ", ".join(f"tag {t} (Ms {ms:.4g} A/m)" for t, ms in magnets.items()))

    def _surface(self, max_bytes: float) -> None:
        """The surface's triangles on every rank (outward, as global DOFs and coordinates), the
        sorted global DOFs of its nodes, and this rank's rows of B (its owned surface nodes)."""
        mesh, comm, V = self.mesh, self.comm, self.V
        tdim = 3
        mesh.topology.create_connectivity(tdim - 1, tdim)
        mesh.topology.create_connectivity(tdim - 1, 0)
        mesh.topology.create_connectivity(tdim, 0)
        facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
        f2c = mesh.topology.connectivity(tdim - 1, tdim)
        f2v = mesh.topology.connectivity(tdim - 1, 0)
        c2v = mesh.topology.connectivity(tdim, 0)
        imap = V.dofmap.index_map
        # P1: a cell's k-th DOF sits at its k-th vertex
        v2d = np.empty(mesh.topology.index_map(0).size_local + mesh.topology.index_map(0).num_ghosts, np.int32)
        nc = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
        v2d[c2v.array.reshape(nc, 4)] = V.dofmap.list
        x = mesh.geometry.x
        vx = np.empty((len(v2d), 3))
        gnodes = mesh.geometry.dofmaps[0]
        vx[c2v.array.reshape(nc, 4)] = x[gnodes]
        verts = f2v.array.reshape(-1, 3)[facets]
        cell = f2c.array[f2c.offsets[facets]]  # an exterior facet's one cell
        corners = c2v.array.reshape(nc, 4)[cell]
        other = corners[(corners[:, :, None] != verts[:, None, :]).all(axis=2)]  # the cell's 4th vertex
        tri = vx[verts]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        inward = np.einsum("tk,tk->t", normal, vx[other] - tri[:, 0]) > 0
        verts[inward] = verts[inward][:, [0, 2, 1]]
        tri = vx[verts]
        dofs = imap.local_to_global(v2d[verts].reshape(-1)).reshape(-1, 3).astype(np.int64)
        all_dofs = np.concatenate(comm.allgather(dofs))
        all_tri = np.concatenate(comm.allgather(tri))
        # a facet seen by two ranks (ghosts) once
        _, first = np.unique(np.sort(all_dofs, axis=1), axis=0, return_index=True)
        all_dofs, all_tri = all_dofs[np.sort(first)], all_tri[np.sort(first)]
        self.surface_nodes = np.unique(all_dofs)  # global DOFs, sorted
        self.n_surface = len(self.surface_nodes)
        self.tri, self.tri_cols = all_tri, np.searchsorted(self.surface_nodes, all_dofs)
        lo, hi = imap.local_range
        owned = self.surface_nodes[(self.surface_nodes >= lo) & (self.surface_nodes < hi)]
        self.rows = (owned - lo).astype(np.int32)  # local DOFs, in the global order
        self.row_cols = np.searchsorted(self.surface_nodes, owned)
        self.counts = np.array(comm.allgather(len(self.rows)))
        # the surface DOFs this rank holds, owned and ghost (phi2's boundary condition)
        held = imap.local_to_global(np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32))
        self.surface_dofs = np.nonzero(np.isin(held, self.surface_nodes))[0].astype(np.int32)
        need = float(len(self.rows)) * self.n_surface * 8
        worst = comm.allreduce(need, op=MPI.MAX)
        if worst > max_bytes:  # every rank knows `worst`: raised on all together, printed once
            raise InputError(f"[dynamics] demag_method = \"fembem\": the magnets' surface has {self.n_surface} nodes, so its dense "
                             f"boundary matrix needs {worst / 2**30:.3g} GiB on one rank (limit "
                             f"{max_bytes / 2**30:.3g} GiB): run on more ranks, coarsen the surface, or use "
                             "the shell transformation ([dynamics] demag_method = \"shell\")")

    def _null_space(self):
        """The Neumann matrix's null space: the constants on each connected piece of D (a spin
        valve's two layers are two: one constant for both left CG facing an indefinite
        matrix). Pieces found on rank 0 by label propagation over the cells' nodes."""
        V, comm = self.V, self.comm
        imap = V.dofmap.index_map
        n_cells = self.mesh.topology.index_map(3).size_local
        cells = imap.local_to_global(V.dofmap.list[:n_cells].reshape(-1)).reshape(-1, 4)
        gathered = comm.gather(cells, root=0)
        labels = None
        if comm.rank == 0:
            cells = np.concatenate(gathered)
            labels = np.arange(imap.size_global, dtype=np.int64)
            while True:  # each node takes its cells' smallest label, then the label's label
                low = labels[cells].min(axis=1)
                new = labels.copy()
                for k in range(4):
                    np.minimum.at(new, cells[:, k], low)
                new = new[new]
                if np.array_equal(new, labels):
                    break
                labels = new
            _, labels = np.unique(labels, return_inverse=True)
        labels = comm.bcast(labels, root=0)
        count = int(labels.max()) + 1
        if count == 1:
            return PETSc.NullSpace().create(constant=True, comm=comm), 1
        mine = labels[imap.local_range[0]:imap.local_range[1]]
        vectors = []
        for c in range(count):
            vec = dolfinx.fem.petsc.create_vector(V)
            vec.array[:] = (mine == c).astype(float)
            vec.normalize()
            vectors.append(vec)
        return PETSc.NullSpace().create(vectors=vectors, comm=comm), count

    def _build_B(self) -> None:
        xs = self.V.tabulate_dof_coordinates()[self.rows]
        self.Bmat = double_layer_rows(xs, self.row_cols, self.tri, self.tri_cols, self.n_surface)

    def _surface_values(self, f) -> np.ndarray:
        """f's values at every surface node, in the global order, on every rank."""
        mine = np.ascontiguousarray(f.x.array[self.rows])
        out = np.empty(self.n_surface)
        self.comm.Allgatherv(mine, [out, self.counts])
        return out

    def _solve(self, ksp, b, f) -> int:
        ksp.solve(b, f.x.petsc_vec)
        f.x.scatter_forward()
        reason = ksp.getConvergedReason()
        if reason <= 0:
            raise SolverError(f"the FEM-BEM demag's solve ({ksp.getOptionsPrefix()}) did not converge: PETSc "
                              f"reason {reason_name(reason)} ({reason}) after {ksp.getIterationNumber()} "
                              "iterations")
        return ksp.getIterationNumber()

    def compute(self, u=None, extrapolate: bool = False) -> dolfinx.fem.Function:
        """H_d [A/m] of M = Ms u as P1 (self.H); u and extrapolate as DemagField.compute (the
        extrapolated start is phi1's and phi2's, and the projection's)."""
        t0 = time.perf_counter()
        if u is not None:
            self.source.set(u)
        past = self._history if extrapolate else []
        x1, x2 = self.phi1.x.array, self.phi2.x.array
        if len(past) == 3:
            x1[:] = 3.0 * (past[2][0] - past[1][0]) + past[0][0]
            x2[:] = 3.0 * (past[2][1] - past[1][1]) + past[0][1]
        self.L.mult(self.u.x.petsc_vec, self.b)
        self.nullspace.remove(self.b)
        its = self._solve(self.ksp1, self.b, self.phi1)
        t1 = time.perf_counter()
        g = self.Bmat @ self._surface_values(self.phi1)
        t2 = time.perf_counter()
        its2 = 0
        if self.ksp2 is None:
            x2[self.rows] = g
            self.phi2.x.scatter_forward()
        else:
            bc = self._bc_values.x.array
            bc[:] = 0.0
            bc[self.rows] = g
            self._bc_values.x.scatter_forward()
            self.A_full.mult(self._bc_values.x.petsc_vec, self.b2)
            self.b2.scale(-1.0)
            dolfinx.fem.petsc.set_bc(self.b2, self.bcs)
            its2 = self._solve(self.ksp2, self.b2, self.phi2)
        self.phi.x.array[:] = x1 + x2
        self._history = (past + [(x1.copy(), x2.copy())])[-3:] if extrapolate else []
        t3 = time.perf_counter()
        self.project(extrapolate=extrapolate)
        self.evaluations += 1
        slowest = np.array([t1 - t0, t2 - t1, t3 - t0])  # the slowest rank's, in one reduction
        self.comm.Allreduce(MPI.IN_PLACE, slowest, op=MPI.MAX)
        self.timings.update(iterations=its, dirichlet_iterations=its2, neumann_s=slowest[0],
                            boundary_s=slowest[1], rhs_solve_s=slowest[2], project_s=self.project.seconds)
        return self.H

    def energy(self, u=None) -> float:
        """E_d = (mu0/2) (M, grad phi)_magnets [J] (solves first if u is given)."""
        if u is not None:
            self.compute(u)
        return self.source.energy()

    def average(self) -> np.ndarray:
        """The magnets' volume average of -grad phi [A/m]."""
        return self.source.average()

    def destroy(self) -> None:
        for obj in (self.ksp1, self.A1, self.L, self.b, self.nullspace):
            obj.destroy()
        if self.ksp2 is not None:
            for obj in (self.ksp2, self.A2, self.A_full, self.b2):
                obj.destroy()
        self.project.destroy()
        opts = PETSc.Options()
        for key in self.options:
            for prefix in (self.prefix, f"{self.prefix}dirichlet_"):
                opts.delValue(f"-{prefix}{key}")
