"""From a typed case to the physics: the mesh, the regions, the spin problem, the LLG.

Geometry kinds dispatch by the type of `case.geometry` (SlabSection, RingSection,
DeviceSection); nothing here checks input beyond what the constructors check (that is
`fem_spin.app.preflight`'s job, before any mesh is built).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fem_spin._backend import MPI, dolfinx
from fem_spin.geometry.mesh import Domain, SlabGeometry, build_from_file, build_slab
from fem_spin.io.case import CaseError
from fem_spin.io.model import Case, takes_case
from fem_spin.io.schema import DeviceSection, MaterialSection, RegionSection, RingSection, contact_current
from fem_spin.physics import magnetization as magn
from fem_spin.physics.coefficients import Region
from fem_spin.physics.material import Material
from fem_spin.physics.problem import SpinProblem
from fem_spin.progress import logger, stage

# Above these DOF counts `solver.preset = "auto"` leaves MUMPS LU: with degree 2 for the
# p-multigrid ("iterative"), with P1 (no P1 coarse level) for "blr" or "shifted"; both
# faster and lighter than LU there on 1 and 2 ranks (docs/benchmark.md).
AUTO_ITERATIVE_DOFS = 50_000
AUTO_P1_DOFS = 150_000
# ... and with degree 2 on meshes coarser than 1/|k| (the p-multigrid's P1 level is poor there)
AUTO_COARSE_MESH_DOFS = 300_000
# The shifted-Laplacian preconditioner converges in ~70 mesh-independent iterations at
# a0 = beta = 10 and not at all at 100 (the transverse block becomes Helmholtz-like).
SHIFTED_MAX_A0_BETA = 100.0


def material_of(spec: MaterialSection | RegionSection) -> Material:
    """The Material of the [material] section or of a resolved region."""
    omega0 = spec.omega0_per_s if spec.exchange_eV is None else Material.omega_from_exchange(spec.exchange_eV)
    return Material(D=spec.D_m2_per_s, tau_sf=spec.tau_sf_s, a0=spec.a0, omega0=omega0)


@takes_case
def material_from(case: Case) -> Material:
    """The material of a slab/ring case, or of the first region of a device."""
    if isinstance(case.geometry, DeviceSection) and case.regions:
        return material_of(next(iter(case.regions.values())))
    return material_of(case.material)


def source_of(p, ring_side: float | None = None):
    """The magnetization callable (x -> M/M0) of the [magnetization] section or a region;
    `ring_side`: the side of a ring whose 'interface' profile is the paper's Fig. 12."""
    if p.profile == "uniform":
        return magn.Uniform(tuple(p.direction))
    if p.profile == "wall":
        return magn.RotatingWall(theta=p.theta_deg, width=p.width_nm, u_left=tuple(p.u_left), dip=p.dip)
    if p.profile == "vortex":
        return magn.Vortex(center=tuple(p.offset_nm), circulation=p.circulation, polarity=p.polarity,
                           core=p.core_nm)
    if p.profile == "ovf":
        from fem_spin.io.ovf import GridMagnetization, read_ovf

        return GridMagnetization(read_ovf(p.file), offset_nm=tuple(p.offset_nm), unit_nm=p.file_unit_nm,
                                 outside=p.outside, source=p.file)
    if p.profile == "vtk":
        return magn.VTKMagnetization(p.file, field=p.field, offset_nm=tuple(p.offset_nm),
                                     unit_nm=p.file_unit_nm or 1.0, outside=p.outside)
    if p.profile == "ring" or ring_side is not None:
        from fem_spin.geometry.ring import RingMagnetization

        return RingMagnetization(side=p.ring_side_nm if p.profile == "ring" else ring_side, width=p.width_nm)
    return magn.Interface(theta=p.theta_deg, width=p.width_nm, u_left=tuple(p.u_left))


@takes_case
def profile_from(case: Case):
    """The built-in geometries' magnetization."""
    side = case.geometry.length_nm if isinstance(case.geometry, RingSection) else None
    return source_of(case.magnetization, side)


def _vec(v) -> tuple[float, float, float] | None:
    return None if v is None else tuple(float(c) for c in v)


def region_of(spec: MaterialSection | RegionSection, source, m_eq: str = "zero", B=None) -> Region:
    """A Region from the [material] section or a region (component-wise keys included)."""
    return Region(material=material_of(spec), magnetization=source, B=_vec(B) or (0.0, 0.0, 0.0),
                  D_components=_vec(spec.D_components_m2_per_s),
                  tau_components=_vec(spec.tau_components_s), m_eq=m_eq,
                  polarization=spec.P or 0.0, sigma=spec.sigma_S_per_m, Ms=spec.Ms_A_per_m,
                  theta_SH=spec.theta_SH or 0.0)


@takes_case
def device_regions(case: Case) -> dict[str, Region]:
    """The Regions of a device, by cell-group name."""
    return {name: region_of(spec, source_of(spec) if spec.magnet else None, spec.m_eq, spec.B_T)
            for name, spec in case.regions.items()}


@takes_case
def charge_current(case: Case, domain: Domain, regions: dict[str, Region]):
    """j_e of a case's current drive: None (normalised mode), a uniform 3-vector, or the
    solved potential's (`fem_spin.physics.potential.PotentialResult`, with V and the contacts)."""
    if case.current.drive == "none":
        return None, None
    if case.current.drive == "uniform":
        return np.asarray(case.current.j_A_per_m2, float), None
    from fem_spin.physics.coefficients import cellwise_by_name
    from fem_spin.physics.potential import solve_potential

    bnd = case.boundaries
    sigma = cellwise_by_name(domain, {n: r.sigma for n, r in regions.items()})
    with stage("potential", domain.comm):
        result = solve_potential(domain, sigma,
                                 {n: b.potential_V for n, b in bnd.items() if b.potential_V is not None},
                                 {n: c[1] for n, b in bnd.items() if (c := contact_current(b))})
    logger.info("contacts: %s", ", ".join(f"{n} {result.potentials[n]:.4g} V, {result.currents[n]:.4g} A"
                                          for n in result.currents))
    return result.j, result


@takes_case
def mesh_geometry(case: Case):
    """The SlabGeometry or RingGeometry of a built-in geometry (its checks raise CaseError)."""
    geo = case.geometry
    try:
        if isinstance(geo, RingSection):
            from fem_spin.geometry.ring import RingGeometry

            return RingGeometry(dim=geo.dim, side=geo.length_nm, width=geo.width_nm,
                                h_corner=geo.h_interface_nm, h_far=geo.h_far_nm,
                                refine_distance=geo.refine_distance_nm)
        return SlabGeometry(dim=geo.dim, length=geo.length_nm, width=geo.width_nm,
                            h_interface=geo.h_interface_nm, h_far=geo.h_far_nm,
                            refine_distance=geo.refine_distance_nm)
    except ValueError as exc:
        raise CaseError(str(exc)) from None


@takes_case
def build_domain(case: Case, comm: MPI.Comm, msh_file: Path | None = None) -> Domain | None:
    """Mesh the case (Gmsh on rank 0) or read its mesh file; `msh_file` also writes the mesh."""
    geo = case.geometry
    if isinstance(geo, DeviceSection):
        return build_from_file(geo.file, geo.dim, comm, geo.parameters, geo.unit_nm, msh_file)
    if geo.mesh_file is not None and msh_file is None:
        return build_from_file(geo.mesh_file, geo.dim, comm)
    if isinstance(geo, RingSection):
        from fem_spin.geometry.ring import build_ring

        return build_ring(mesh_geometry(case), comm, msh_file)
    return build_slab(mesh_geometry(case), comm, msh_file)


@takes_case
def make_problem(case: Case, domain: Domain, petsc_options: dict | None = None) -> SpinProblem:
    """The spin problem of a case on its mesh, with the solver preset chosen."""
    from fem_spin.solvers.linear import route_options

    opts = route_options({**case.solver.petsc_options, **(petsc_options or {})})
    kw: dict[str, Any] = dict(degree=case.discretization.degree,
                              quadrature_degree=case.discretization.quadrature_degree,
                              initial_guess=case.solver.initial_guess, petsc_options=opts)
    geo = case.geometry
    if isinstance(geo, DeviceSection):
        bnd = case.boundaries
        regions = device_regions(case)
        current, potential = charge_current(case, domain, regions)
        problem = SpinProblem(
            domain=domain, regions=regions, current=current,
            dirichlet={n: np.asarray(b.m, float) for n, b in bnd.items() if b.type == "fixed"},
            neumann={n: np.asarray(b.J_m_per_s, float) for n, b in bnd.items() if b.type == "current"},
            **kw)
        a0_beta = max(r.material.a0 * r.material.beta for _, r in problem.coef.regions)
        problem.potential = potential
    else:
        ring = isinstance(geo, RingSection)
        profile = profile_from(case)
        region = region_of(case.material, profile, "magnetization" if ring else "zero", case.field.B_T)
        dirichlet = {}
        if not ring:  # the slab's ends: the paper's -u_L and +u_R unless [boundary] says otherwise
            u_l, u_r = profile.end_directions()
            left, right = case.boundary.left_end, case.boundary.right_end
            dirichlet = {"left_end": np.asarray(left if left is not None else -u_l, float),
                         "right_end": np.asarray(right if right is not None else u_r, float)}
        problem = SpinProblem(domain=domain, regions=[(None, region)], dirichlet=dirichlet, **kw)
        a0_beta = region.material.a0 * region.material.beta
        problem.potential = None
    preset = case.solver.preset
    if preset == "auto":
        preset = auto_preset(problem.num_dofs, a0_beta, problem.degree, coarsest_kh(case))
    problem.solver = preset
    return problem


@takes_case
def coarsest_kh(case: Case) -> float | None:
    """h_far |k| of a built-in geometry (None for a device: its file sets h)."""
    if isinstance(case.geometry, DeviceSection):
        return None
    return case.geometry.h_far_nm * abs(material_from(case).transverse_k)


def auto_preset(dofs: int, a0_beta: float, degree: int = 2, kh: float | None = None) -> str:
    """LU while it is cheap; above, the p-multigrid ("iterative") for degree >= 2; with P1 the
    shifted Laplacian where it converges (a0 beta <= 100), else GMRES + BLR MUMPS ("blr").
    kh: the coarsest element size times |k| (the transverse wave number); above 1 the
    p-multigrid's P1 level represents the waves poorly (239 iterations at h = 1.2 nm for the
    paper's slab, 14.8 s against 5.4 s for LU on 2 ranks), so LU is kept up to 3e5 DOFs."""
    if degree >= 2:
        if dofs <= AUTO_ITERATIVE_DOFS or (kh is not None and kh > 1.0 and dofs <= AUTO_COARSE_MESH_DOFS):
            return "direct"
        return "iterative"
    if dofs <= AUTO_P1_DOFS:
        return "direct"
    return "shifted" if a0_beta <= SHIFTED_MAX_A0_BETA else "blr"


@takes_case
def llg_of(case: Case, problem: SpinProblem):
    """The LLG integrator of a case with [dynamics]: its magnets, constants and initial u."""
    from fem_spin.physics.llg import LLG, MagnetParams

    def params(spec: MaterialSection | RegionSection, dynamic: bool = True) -> MagnetParams:
        return MagnetParams(Ms=spec.Ms_A_per_m, A_ex=spec.A_ex_J_per_m or 0.0, K_u=spec.K_u_J_per_m3 or 0.0,
                            K_axis=tuple(spec.K_axis), K2=spec.K2_J_per_m3 or 0.0, K2_axis=tuple(spec.K2_axis),
                            alpha_G=spec.alpha_G, dynamic=dynamic)

    def direction(source):
        def u0(x):
            v = source(x)
            n = np.linalg.norm(v, axis=0)
            return np.where(n > 0, v / np.where(n > 0, n, 1.0), 0.0)
        return u0

    dom = problem.domain
    cells = {}  # a device's magnets: their cells
    if isinstance(case.geometry, DeviceSection):
        cells = {n: dom.cell_tags.find(dom.cells[n]).astype(np.int32) for n, r in case.regions.items() if r.magnet}
        magnets = [(c, params(case.regions[n], case.regions[n].dynamic),
                    direction(problem.regions[n].magnetization)) for n, c in cells.items()]
    else:
        magnets = [(None, params(case.material), direction(profile_from(case)))]
    names = list(cells)
    demag = oersted = None
    fembem = case.dynamics.demag_method == "fembem"
    if demag_on(case) or case.field.oersted:
        # the twin (shell transformation, Oersted) or the magnets' own cells (FEM-BEM)
        twin, h = twin_of(case, dom) if case.field.oersted or not fembem else (None, mean_edge(dom.mesh))
        # the two facetings of a curved face are up to ~h^2/(8 R) apart: points that far out count as in
        if demag_on(case):
            from fem_spin.physics.device_fields import DeviceDemag

            demag = DeviceDemag(dom.mesh, cells, twin, {n: case.regions[n].Ms_A_per_m for n in names},
                                padding=0.2 * h, method=case.dynamics.demag_method)
        if case.field.oersted:
            from fem_spin.physics.device_fields import DeviceOersted

            oersted = DeviceOersted(dom.mesh, cells, twin, list(case.regions), problem.current,
                                    padding=0.2 * h).B
    return LLG(dom.mesh, magnets, B=tuple(case.field.B_T), theta=case.dynamics.theta,
               solver=case.dynamics.llg_solver, demag=demag, B_static=oersted,
               precession=not case.dynamics.relax, order=case.dynamics.order,
               demag_every=case.dynamics.demag_every)


def embeddable(geo) -> bool:
    """A 3D device (what the demag and Oersted fields need): its file, a .geo or a .msh (the
    only kinds a device reads, io.case), is embedded in air by fem_spin.geometry.air."""
    return isinstance(geo, DeviceSection) and geo.dim == 3


@takes_case
def demag_on(case: Case) -> bool:
    """[dynamics] demag, or its default: on for a 3D device from a .geo or .msh file."""
    if case.dynamics.demag is not None:
        return case.dynamics.demag
    return embeddable(case.geometry)


def mean_edge(mesh) -> float:
    """A mesh's mean edge length (its units): 0.7 of its cells' mean diameter (longest edge),
    to 10 digits: the sum's order depends on the partition, and Gmsh, which meshes the twin
    with it, gave a pillar's twin 13582 cells on 2 ranks and 13489 on 1 from a last-bit change."""
    comm, tdim = mesh.comm, mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    sizes = dolfinx.cpp.mesh.h(mesh._cpp_object, tdim, np.arange(n, dtype=np.int32))
    mean = 0.7 * comm.allreduce(float(sizes.sum()), op=MPI.SUM) / comm.allreduce(n, op=MPI.SUM)
    return float(f"{mean:.10g}")


@takes_case
def twin_of(case: Case, dom: Domain):
    """(the air-embedded twin of a 3D .geo device, its element size in the device [nm]) for
    the magnetostatic fields (preflight checked the case): the geometry meshed again inside
    an air ball and a shell, sized from the device mesh."""
    from fem_spin.geometry.air import AirBox
    from fem_spin.physics.device_fields import twin_domain

    mesh, comm, dyn, geo = dom.mesh, dom.mesh.comm, case.dynamics, case.geometry
    x = mesh.geometry.x
    lo, hi = x.min(axis=0).copy(), x.max(axis=0).copy()
    comm.Allreduce(MPI.IN_PLACE, lo, op=MPI.MIN)
    comm.Allreduce(MPI.IN_PLACE, hi, op=MPI.MAX)
    center = 0.5 * (lo + hi)
    radius = comm.allreduce(float(np.max(np.linalg.norm(x - center, axis=1))), op=MPI.MAX)
    h = dyn.demag_h_nm if dyn.demag_h_nm is not None else mean_edge(mesh)
    R1 = dyn.demag_air * radius
    unit = geo.unit_nm
    box = AirBox(R1=R1 / unit, R2=dyn.demag_shell * R1 / unit, h_magnet=h / unit,
                 h_far=max(h, R1 / 4) / unit, center=tuple(float(c) / unit for c in center))
    twin = twin_domain(Path(geo.file), geo.parameters, box, comm)
    if unit != 1.0:
        twin.mesh.geometry.x[:] *= unit
        twin.info.update(R1=R1, R2=dyn.demag_shell * R1, center=tuple(float(c) for c in center))
    return twin, h
