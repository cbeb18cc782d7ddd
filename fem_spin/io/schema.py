"""The case schema: one frozen dataclass per section of a case file, per region and per
boundary. Each field's metadata is its `Key` (type, default, unit, doc, allowed values,
check), so validation (`fem_spin.io.case`), the typed `Case` the rest of the package reads
(`fem_spin.io.model`), the README's case table and the JSON Schema for editors
(`fem_spin.io.schema_export`, `fem-spin schema`) all come from these classes. Keys carry their
unit in their name (``length_nm``, ``tau_sf_s``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REQUIRED = object()
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Key:
    kind: str  # "float", "int", "str", "bool", "vec3", "table", "strlist"
    default: Any = REQUIRED
    unit: str = ""
    doc: str = ""
    choices: tuple | None = None
    check: Callable[[Any], str | None] | None = None


def key(kind: str, default: Any = REQUIRED, *, unit: str = "", doc: str = "", choices: tuple | None = None,
        check: Callable[[Any], str | None] | None = None) -> Any:
    """A dataclass field described by a Key; `default` dict means an empty table."""
    spec = Key(kind, {} if default is dict else default, unit, doc, choices, check)
    meta = {"key": spec}
    if default is REQUIRED:
        return dataclasses.field(metadata=meta)
    if default is dict:
        return dataclasses.field(default_factory=dict, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def inherit(section: type, name: str) -> Any:
    """A region's copy of a [material] / [magnetization] key: default None, 'take the value of
    the section' (filled in when the case is resolved)."""
    spec = keys_of(section)[name]
    return dataclasses.field(default=None, metadata={"key": dataclasses.replace(
        spec, default=None, doc=f"(default [{SECTION_NAMES[section.__name__]}]) {spec.doc}")})


SECTION_NAMES = {"MaterialSection": "material", "MagnetizationSection": "magnetization"}


def keys_of(cls: type) -> dict[str, Key]:
    """The Keys of a section class, in the order of its fields."""
    return {f.name: f.metadata["key"] for f in dataclasses.fields(cls)}


def positive(v) -> str | None:
    return None if v > 0 else "must be > 0"


def non_negative(v) -> str | None:
    return None if v >= 0 else "must be >= 0"


def non_negative_exchange(v) -> str | None:
    # a0 and omega0 are both proportional to lambda: a negative exchange is the same as
    # reversing the magnetization, so it is refused rather than given a second meaning.
    return None if v >= 0 else "must be >= 0 (for lambda < 0, reverse the magnetization instead)"


def non_zero(v) -> str | None:
    return None if any(c != 0 for c in v) else "must be a non-zero vector"


def angle(v) -> str | None:
    return None if 0 <= v <= 180 else "must be an angle in [0, 180] degrees"


def positive_components(v) -> str | None:
    return None if all(c > 0 for c in v) else "every component must be > 0"


def at_least(n: int) -> Callable[[Any], str | None]:
    return bounded(lambda v: None if v >= n else f"must be >= {n}", minimum=n)


def in_range(lo: float, hi: float) -> Callable[[Any], str | None]:
    return bounded(lambda v: None if lo <= v <= hi else f"must be in [{lo:g}, {hi:g}]", minimum=lo, maximum=hi)


def bounded(check: Callable, **json) -> Callable:
    """A check with its bounds for the JSON Schema (io.schema_export): the same limits an editor
    sees as fem-spin applies (issue 41: length_nm = -100 passed the schema)."""
    check.json = json
    return check


bounded(positive, exclusiveMinimum=0)
bounded(non_negative, minimum=0)
bounded(non_negative_exchange, minimum=0)
bounded(angle, minimum=0, maximum=180)
bounded(positive_components, exclusiveMinimum=0)

@dataclass(frozen=True, kw_only=True)
class GeometrySection:
    """[geometry]: the kind of device and how to mesh it (every key of every kind; the
    subclass per kind says what to do with them)."""

    kind: str = key('str',
        doc='slab (CPP stack along x), ring (closed square loop) or gmsh (your device: geometry.file '
            'with named regions and boundaries)',
        choices=('slab', 'ring', 'gmsh'))
    dim: int = key('int', 1, doc='dimension of the mesh (gmsh: taken from the file)', choices=(1, 2, 3))
    file: str | None = key('str', None,
        doc='gmsh: a Gmsh .geo script (meshed on rank 0) or .msh file with physical groups naming the '
            'regions (cells) and boundaries (facets)')
    unit_nm: float = key('float', 1.0, unit='nm',
        doc="gmsh: the file's length unit in nm (1e9 for metres)",
        check=positive)
    parameters: dict = key('table', dict,
        doc='gmsh: numbers set in the .geo script before it is read (its DefineConstant values), e.g. '
            '{L = 50}')
    length_nm: float = key('float', 100.0, unit='nm',
        doc='slab length L along x / ring side L',
        check=positive)
    width_nm: float = key('float', 4.0, unit='nm', doc='side of the square cross-section', check=positive)
    h_interface_nm: float = key('float', 0.15, unit='nm',
        doc='element size at the interface / ring corners',
        check=positive)
    h_far_nm: float = key('float', 0.5, unit='nm', doc='element size away from it', check=positive)
    refine_distance_nm: float | None = key('float', None, unit='nm',
        doc='width of the zone kept at h_interface (default 5 h_interface)',
        check=positive)
    mesh_file: str | None = key('str', None,
        doc='read this mesh from `fem-spin mesh` instead of meshing: .msh (Gmsh, read on rank 0) or '
            '.xdmf (with its .h5 and .names.json, read in parallel)')
    allow_coarse: bool = key('bool', False,
        doc='warn instead of fail when h_interface_nm cannot resolve the shortest decay length')
    allow_large: bool = key('bool', False,
        doc="run even when the estimated peak memory (from the estimated cells, DOFs and solver) "
            "exceeds this node's memory")


@dataclass(frozen=True, kw_only=True)
class MagnetizationSection:
    """[magnetization]: the built-in profiles of the slab and the ring."""

    profile: str = key('str', 'interface',
        doc="interface: the paper's spacer dip, mu = tanh(|x|/w), direction jumps by theta at x = 0; "
            "wall: direction rotates by theta over w; uniform: M = M0 direction",
        choices=('interface', 'wall', 'uniform'))
    theta_deg: float = key('float', 90.0, unit='degree',
        doc='angle between u_L and u_R (about x)',
        check=angle)
    width_nm: float = key('float', 0.6, unit='nm',
        doc="w, width of the dip or wall (the paper's lda)",
        check=positive)
    u_left: Vec3 = key('vec3', (0.0, 0.0, 1.0), doc='u_L, direction in the left layer', check=non_zero)
    dip: bool = key('bool', False, doc='wall profile only: also dip |M| to 0 at x = 0')
    direction: Vec3 = key('vec3', (0.0, 0.0, 1.0), doc='uniform profile: direction of M', check=non_zero)


@dataclass(frozen=True, kw_only=True)
class MaterialSection:
    """[material]: spin transport (and, for [dynamics], micromagnetic) constants."""

    D_m2_per_s: float = key('float', 0.001, unit='m^2/s', doc='diffusion constant D', check=positive)
    tau_sf_s: float = key('float', 1e-11, unit='s', doc='spin-flip time tau_sf', check=positive)
    a0: float = key('float', 100.0, unit='-',
        doc='tensor parameter tau lambda M0 (D_yx/D_xx)',
        check=non_negative_exchange)
    omega0_per_s: float = key('float', 10000000000000.0, unit='1/s',
        doc='precession frequency lambda M0 (beta = omega0 tau_sf)',
        check=non_negative_exchange)
    exchange_eV: float | None = key('float', None, unit='eV',
        doc='alternative to omega0_per_s: exchange energy, omega0 = E/hbar',
        check=non_negative_exchange)
    D_components_m2_per_s: Vec3 | None = key('vec3', None, unit='m^2/s',
        doc='component-wise D^k in the lab frame (Eq. 72, Dt^kp = D^p (A^-1)^kp); default isotropic D',
        check=positive_components)
    P: float | None = key('float', None, unit='-',
        doc='current polarization (charge-current drive; required for magnets then, 0 in normal '
            'metals)',
        check=in_range(-1, 1))
    sigma_S_per_m: float | None = key('float', None, unit='S/m',
        doc="conductivity (current.drive = 'solved')",
        check=positive)
    Ms_A_per_m: float | None = key('float', None, unit='A/m',
        doc='saturation magnetization (the equivalent field B_sd = +omega0 m/(gamma Ms) in tesla; '
            'needed by [dynamics])',
        check=positive)
    theta_SH: float = key('float', 0.0, unit='-',
        doc='spin Hall angle (charge-current drive): the spin current gains theta_SH (muB/e) [j_e]x, '
            'moments theta_SH (muB/e) j_e x n across a surface of normal n; > 0 for Pt, < 0 for Ta '
            'and W (BORIS\'s sign; docs/conventions.md)',
        check=in_range(-1, 1))
    A_ex_J_per_m: float | None = key('float', None, unit='J/m',
        doc='[dynamics]: exchange stiffness (default 0)',
        check=non_negative)
    K_u_J_per_m3: float | None = key('float', None, unit='J/m^3',
        doc='[dynamics]: uniaxial anisotropy along K_axis (default 0)')
    K_axis: Vec3 = key('vec3', (0.0, 0.0, 1.0), doc='[dynamics]: the anisotropy axis e_K', check=non_zero)
    K2_J_per_m3: float | None = key('float', None, unit='J/m^3',
        doc='[dynamics]: a second uniaxial term along K2_axis, energy -K2 (u.e2)^2 (negative: a hard axis; '
            'default 0)')
    K2_axis: Vec3 = key('vec3', (1.0, 0.0, 0.0), doc='[dynamics]: the second anisotropy axis e2', check=non_zero)
    alpha_G: float | None = key('float', None, unit='-',
        doc='[dynamics]: Gilbert damping',
        check=non_negative)
    tau_components_s: Vec3 | None = key('vec3', None, unit='s',
        doc='component-wise tau_k (Eqs. 66, 73: relaxation -(m^k - m_eq^k)/tau_k, A = I + '
            'diag(tau_k/tau_sf)[alpha]x)',
        check=positive_components)


@dataclass(frozen=True, kw_only=True)
class FieldSection:
    """[field]: the applied field."""

    B_T: Vec3 = key('vec3', (0.0, 0.0, 0.0), unit='T',
        doc='applied field B: precession -gamma B and tensor alpha = a0 mu u - (a0/omega0) gamma B '
            '(MODEL.md); per region: regions.NAME.B_T')
    oersted: bool = key('bool', False,
        doc='[dynamics]: the Oersted field of the charge current (uniform or solved) in the LLG of a 3D '
            '.geo or .msh device, from the device embedded in air (as demag), computed once')


@dataclass(frozen=True, kw_only=True)
class CurrentSection:
    """[current]: the charge-current drive."""

    drive: str = key('str', 'none',
        doc="none: the paper's normalised accumulation (fixed m at the ends); uniform: a given charge "
            "current density j_A_per_m2; solved: the potential div(sigma grad V) = 0 with contacts "
            "(boundaries.NAME.potential_V / current_A). With a drive m is in A/m and J in A/s",
        choices=('none', 'uniform', 'solved'))
    j_A_per_m2: Vec3 | None = key('vec3', None, unit='A/m^2',
        doc='drive uniform: the charge (conventional) current density j_e; electrons flow the other '
            'way')


@dataclass(frozen=True, kw_only=True)
class StageSection:
    """[[dynamics.stages]]: one stage of a run (a field sequence: each stage starts from the
    last one's state; left-out keys take the [dynamics] / [field] / region value)."""

    t_end_s: float = key('float', unit='s',
        doc='how long this stage runs (a relax stage: at most this long)',
        check=positive)
    dt_s: float | None = key('float', None, unit='s',
        doc='(default [dynamics] dt_s) the time step of this stage (t_end_s a whole number of them)',
        check=positive)
    B_T: Vec3 | None = key('vec3', None, unit='T',
        doc='(default [field] B_T) the uniform applied field of this stage')
    alpha_G: float | None = key('float', None, unit='-',
        doc="(default each magnet's) the damping of every moving magnet in this stage",
        check=non_negative)
    relax: bool = key('bool', False,
        doc='relax: damping only, until the largest torque is below relax_torque_T (not relaxed '
            'within t_end_s ends the run: exit 1, the last state written)')
    relax_torque_T: float | None = key('float', None, unit='T',
        doc='(default [dynamics] relax_torque_T) a relax stage\'s largest torque at equilibrium',
        check=positive)


@dataclass(frozen=True, kw_only=True)
class DynamicsSection:
    """[dynamics]: the magnetization's LLG equation coupled to the accumulation."""

    t_end_s: float | None = key('float', None, unit='s',
        doc="simulate the magnetization's LLG equation (Eq. 79) coupled to the accumulation up to "
            "this time (default: a steady solve only)",
        check=positive)
    dt_s: float | None = key('float', None, unit='s',
        doc='time step (t_end_s a whole number of them); with tolerance the first step',
        check=positive)
    tolerance: float | None = key('float', None, unit='-',
        doc='adaptive steps: the largest local error of u per step (order 2: the midpoint\'s embedded '
            'estimate; order 1: step doubling); 1e-4 keeps the damping within 1% (docs/micromagnetics.md); '
            'steps grow and shrink (rejected steps are retried and logged)',
        check=positive)
    electrons: str = key('str', 'quasi-static',
        doc="quasi-static: a steady solve for m per step (tau_sf far below the moments' time scales); "
            "transient: one backward-Euler step of the electron equation per step, from m = 0 (fixed "
            "steps only)",
        choices=('quasi-static', 'transient'))
    checkpoint_every: int = key('int', 100,
        doc='write a checkpoint every this many steps (and on SIGTERM); running the same command '
            'again goes on from it (0: only on SIGTERM)',
        check=at_least(0))
    theta: float = key('float', 1.0, unit='-',
        doc='order 1 only: implicitness of the exchange term, 0.5 .. 1 (1: unconditionally stable; '
            'order 2 takes the midpoint, 1/2)',
        check=in_range(0.5, 1))
    output_every: int = key('int', 10,
        doc='write the time series (u_t, m_t) every this many steps (dynamics.csv has a row for every '
            'step)',
        check=at_least(1))
    rho: float = key('float', 1.0, unit='-',
        doc='accumulation scale s0/Ms of the normalised mode: B_sd = +(omega0 rho/gamma) m (with a '
            'current drive m is in A/m and B_sd = +omega0 m/(gamma Ms))',
        check=non_negative)
    allow_long: bool = key('bool', False,
        doc='run even when t_end_s / dt_s is more than 1e6 steps (a typo in dt_s is refused '
            'before any work otherwise)')
    reuse_solver: bool = key('bool', True,
        doc='per step, redo only what changed: the electron matrix on the moving magnets\' cells '
            'only, the preconditioner only when its extra iterations have cost more than a rebuild, '
            'each solve from m extrapolated from the last two steps (false: all of it every step; '
            'the same trajectory to 1e-6)')
    relax: bool = key('bool', False,
        doc='relax to equilibrium instead: damping only (no precession), until the largest torque '
            '|u x B_eff| on the moving nodes is below relax_torque_T (t_end_s is the limit: not relaxed '
            'by then is exit 1, with the last state written)')
    relax_torque_T: float = key('float', 1e-4, unit='T',
        doc='relax: the largest torque |u x B_eff| left at equilibrium',
        check=positive)
    demag: bool | None = key('bool', None,
        doc='the demagnetizing field of the magnets in the LLG, computed on the device meshed again '
            '(a .msh: its cells kept) inside an air ball and a shell that maps infinity '
            '(docs/magnetostatics.md); default: true for a 3D device from a .geo or .msh file, false '
            'otherwise (false: no demag, as before)')
    demag_method: str = key('str', 'shell',
        doc='demag: how the field is computed. shell: the device meshed again inside an air ball and a '
            'shell that maps infinity, one Poisson solve; fembem: Fredkin-Koehler FEM-BEM on the magnets\' '
            'own cells, no air, two Poisson solves and a dense boundary matrix (N_b^2 numbers for N_b '
            'surface nodes, built once): faster for thin films, but P1, so less accurate at the same cells than the shell\'s P2 (docs/magnetostatics.md)',
        choices=('shell', 'fembem'))
    demag_h_nm: float | None = key('float', None, unit='nm',
        doc='demag: element size in the device of its air-embedded mesh (default: the device mesh\'s '
            'mean edge, 0.7 of its mean cell diameter; a .msh device keeps its cells: the air\'s size '
            'at their surface)',
        check=positive)
    demag_air: float = key('float', 2.0, unit='-',
        doc='demag: the air ball\'s radius over the device\'s (its farthest point from its centre)',
        check=at_least(1.05))
    demag_shell: float = key('float', 2.0, unit='-',
        doc='demag: the shell\'s outer radius over the air ball\'s (the shell maps infinity)',
        check=at_least(1.1))
    demag_every: int = key('int', 1,
        doc='demag: solve the field at every this many steps of a precessing stage (fixed steps); the steps '
            'between take it extrapolated: its nonlocal part B_d + mu0 Ms N u along the parabola through the '
            'last three solves, its local part -mu0 Ms N u from the step\'s own u (N the magnets\' demagnetizing '
            'tensor). 2 solves half as often: SP4\'s step costs a quarter less, its <m>(t) within 2e-4 of '
            'every step\'s (docs/micromagnetics.md); dynamics.csv\'s '
            'energies are those of the solved steps (NaN between them); relax stages and written steps '
            'always solve',
        check=at_least(1))
    llg_solver: str = key('str', 'iterative',
        doc='the LLG step\'s tangent-plane system: iterative (GMRES + ILU(0)) or direct (MUMPS LU)',
        choices=('iterative', 'direct'))
    order: int = key('int', 2,
        doc='time scheme: 2 (the implicit midpoint rule in the tangent plane: second order, |u| and, at '
            'alpha_G = 0, the energy conserved, no numerical damping, the demag solved at the midpoint; '
            'its local error estimate is in dynamics.csv, and a fixed step above 1e-3 is logged: take '
            'tolerance) or 1 (the theta scheme: its explicit fields add dt |omega|/2 of negative damping '
            'to a precession; relaxation always takes it)',
        choices=(1, 2))
    stages: tuple = key('stages', (),
        doc='[[dynamics.stages]] tables: a sequence of stages (field, damping, t_end_s, relax), each from '
            'the last one\'s state; t_end_s (if given) is their sum')


@dataclass(frozen=True, kw_only=True)
class EndsSection:
    """[boundary]: the slab's two ends."""

    left_end: Vec3 | None = key('vec3', None, doc="m at the left end (default -u_L, the paper's)")
    right_end: Vec3 | None = key('vec3', None, doc="m at the right end (default +u_R, the paper's)")


@dataclass(frozen=True, kw_only=True)
class DiscretizationSection:
    """[discretization]: finite-element degree and quadrature."""

    degree: int = key('int', 2,
        doc="Lagrange degree of m (P1 needs ~4x finer meshes for the paper's a0 = beta = 100)",
        choices=(1, 2))
    quadrature_degree: int | None = key('int', None,
        doc='of every term (default: 2 degree + 1 for the reaction, source and mass terms, 2 degree - '
            '1, at least 2, for the diffusion term)',
        check=positive)


@dataclass(frozen=True, kw_only=True)
class SolverSection:
    """[solver]: the linear solver."""

    preset: str = key('str', 'auto',
        doc='direct (MUMPS LU), iterative (the scalable one: GMRES + P2/P1 two-level p-multigrid, '
            'degree 2), blr (GMRES + block-low-rank MUMPS), shifted (FGMRES + A-scaled shifted '
            'Laplacian/GAMG, a0 beta <= 100), or auto (direct up to 5e4 DOFs, or 3e5 on meshes '
            'coarser than 1/|k|, then iterative; with degree 1 direct up to 1.5e5 DOFs, then shifted '
            'or blr by a0 beta)',
        choices=('auto', 'direct', 'iterative', 'blr', 'shifted'))
    initial_guess: str | None = key('str', None,
        doc='start the solve from a checkpoint: a result folder written with output.checkpoint = true '
            '(or its checkpoint/ folder) of the same mesh (e.g. a neighbouring case of a sweep)')
    petsc_options: dict = key('table', dict,
        doc='PETSc options on top of the preset, e.g. {ksp_monitor = ""}')


@dataclass(frozen=True, kw_only=True)
class OutputSection:
    """[output]: what is written where."""

    folder: str = key('str', 'results', doc='result folder (overridden by --output)')
    profile_points: int = key('int', 1001, doc='points of the CSV line profile', check=at_least(2))
    paraview: bool = key('bool', True,
        doc='write ParaView files: fields.pvd (binary compressed VTK XML, one .vtu per rank; every '
            'ParaView opens it)')
    fields: tuple[str, ...] = key('strlist', ('m', 'M', 'T', 'abs_m', 'J', 'B_sd'),
        doc='what fields.pvd holds (m always; B_sd only with a drive); J is the 3x3 spin current '
            'averaged to the nodes, components Jxx, Jxy, ... = J[spin, space]',
        choices=('m', 'M', 'T', 'abs_m', 'J', 'B_sd'))
    precision: str = key('str', 'double',
        doc='of the fields in the ParaView files (single: half the bytes, 7 digits)',
        choices=('double', 'single'))
    checkpoint: bool = key('bool', False,
        doc='also write checkpoint/ (m, partition-independent, exact): solver.initial_guess of a '
            'later run reads it on any number of ranks')
    vtx: bool = key('bool', False,
        doc="also write ADIOS2 VTX (.bp) files (ParaView builds with ADIOS2, e.g. Kitware's binaries; "
            "large parallel runs)")
    line_from_nm: Vec3 | None = key('vec3', None, unit='nm',
        doc="gmsh: start of the profile line (default: the mesh's longest bounding-box axis through "
            "its centre)")
    line_to_nm: Vec3 | None = key('vec3', None, unit='nm', doc='gmsh: end of the profile line')
    png: bool = key('bool', True, doc='write PNG pictures')


@dataclass(frozen=True, kw_only=True)
class RegionSection:
    """[regions.NAME]: one cell group of a device. Keys left out take the [material],
    [magnetization] or [field] value when the case is resolved."""

    magnet: bool = key('bool', True,
        doc='false for a normal metal or spacer (mu = 0: isotropic D, no exchange precession)')
    preset: str | None = key('str', None,
        doc='material preset instead of [material]: paper (l_sf = 100 nm, a0 = beta = 100)',
        choices=('paper',))
    D_m2_per_s: float | None = inherit(MaterialSection, 'D_m2_per_s')
    tau_sf_s: float | None = inherit(MaterialSection, 'tau_sf_s')
    a0: float | None = inherit(MaterialSection, 'a0')
    omega0_per_s: float | None = inherit(MaterialSection, 'omega0_per_s')
    exchange_eV: float | None = inherit(MaterialSection, 'exchange_eV')
    D_components_m2_per_s: Vec3 | None = inherit(MaterialSection, 'D_components_m2_per_s')
    P: float | None = inherit(MaterialSection, 'P')
    sigma_S_per_m: float | None = inherit(MaterialSection, 'sigma_S_per_m')
    Ms_A_per_m: float | None = inherit(MaterialSection, 'Ms_A_per_m')
    theta_SH: float | None = inherit(MaterialSection, 'theta_SH')
    A_ex_J_per_m: float | None = inherit(MaterialSection, 'A_ex_J_per_m')
    K_u_J_per_m3: float | None = inherit(MaterialSection, 'K_u_J_per_m3')
    K_axis: Vec3 | None = inherit(MaterialSection, 'K_axis')
    K2_J_per_m3: float | None = inherit(MaterialSection, 'K2_J_per_m3')
    K2_axis: Vec3 | None = inherit(MaterialSection, 'K2_axis')
    alpha_G: float | None = inherit(MaterialSection, 'alpha_G')
    tau_components_s: Vec3 | None = inherit(MaterialSection, 'tau_components_s')
    profile: str | None = key('str', None,
        doc="(default [magnetization]) interface / wall / uniform as in [magnetization], ovf (an "
            "OOMMF/mumax3 file, e.g. a run's u_final.ovf) or vtk (a point or cell field of a .vtu/.vtk "
            "file) or ring (the paper's Fig. 12 profile of a square ring of side ring_side_nm) or vortex "
            "(about z through offset_nm: circulation, polarity, core_nm)",
        choices=('interface', 'wall', 'uniform', 'ovf', 'vtk', 'ring', 'vortex'))
    theta_deg: float | None = inherit(MagnetizationSection, 'theta_deg')
    width_nm: float | None = inherit(MagnetizationSection, 'width_nm')
    u_left: Vec3 | None = inherit(MagnetizationSection, 'u_left')
    dip: bool | None = inherit(MagnetizationSection, 'dip')
    direction: Vec3 | None = inherit(MagnetizationSection, 'direction')
    ring_side_nm: float | None = key('float', None, unit='nm',
        doc='profile ring: centreline side L of the square ring',
        check=positive)
    file: str | None = key('str', None, doc='profile ovf/vtk: the file (relative to the case file)')
    offset_nm: Vec3 = key('vec3', (0.0, 0.0, 0.0), unit='nm',
        doc="profile ovf/vtk: where the file's origin lies on the mesh; vortex: its centre")
    circulation: int = key('int', 1,
        doc='profile vortex: +1 counter-clockwise seen from +z, -1 clockwise',
        choices=(-1, 1))
    polarity: int = key('int', 1,
        doc='profile vortex: the core points along +z (+1) or -z (-1)',
        choices=(-1, 1))
    core_nm: float = key('float', 5.0, unit='nm',
        doc='profile vortex: the initial core width (u_z = polarity exp(-(r/core_nm)^2))',
        check=positive)
    file_unit_nm: float | None = key('float', None, unit='nm',
        doc="profile ovf/vtk: the file's length unit in nm (default: the OVF meshunit; 1 for vtk)",
        check=positive)
    outside: str = key('str', 'error',
        doc="profile ovf/vtk: mesh points outside the file's grid: error, zero (no magnet there) or "
            "nearest",
        choices=('error', 'zero', 'nearest'))
    field: str | None = key('str', None,
        doc='profile vtk: name of the 3-vector array (default: the only one)')
    B_T: Vec3 | None = key('vec3', None, unit='T', doc='(default [field]) applied field in this region')
    m_eq: str = key('str', 'zero',
        doc="equilibrium accumulation: zero, or magnetization (m_eq = M/M0, as in the paper's ring)",
        choices=('zero', 'magnetization'))
    dynamic: bool = key('bool', True,
        doc="[dynamics]: false holds this magnet's direction fixed (a reference layer)")


@dataclass(frozen=True, kw_only=True)
class BoundarySection:
    """[boundaries.NAME]: one facet group of a device."""

    type: str = key('str', 'free',
        doc='fixed (a reservoir: m = boundaries.NAME.m), current (given outward normal spin current '
            'J_m_per_s) or free (zero spin current)',
        choices=('fixed', 'current', 'free'))
    m: Vec3 | None = key('vec3', None, doc='type fixed: the accumulation held there')
    J_m_per_s: Vec3 | None = key('vec3', None, unit='m/s',
        doc='type current: J.n, the outward normal spin current (3 spin components, per unit m; A/s '
            'with a charge-current drive)')
    potential_V: float | None = key('float', None, unit='V',
        doc='current.drive solved: an electric contact at this potential (default spin condition '
            'there: a reservoir, m = 0)')
    current_A: float | None = key('float', None, unit='A',
        doc='current.drive solved: an equipotential contact carrying this total current into the '
            'device (3D)')
    current_A_per_m: float | None = key('float', None, unit='A/m',
        doc='the same for a 2D device: the current per metre of depth')
    current_A_per_m2: float | None = key('float', None, unit='A/m^2',
        doc='the same for a 1D device: the current density through its cross-section')


# The contact current key of each mesh dimension (a 1D device has no cross-section to carry A).
CURRENT_KEYS = {3: "current_A", 2: "current_A_per_m", 1: "current_A_per_m2"}


def contact_current(b: BoundarySection | dict) -> tuple[str, float] | None:
    """(key, value) of a boundary's contact current, or None."""
    get = b.get if isinstance(b, dict) else lambda k: getattr(b, k)
    given = [(k, get(k)) for k in CURRENT_KEYS.values() if get(k) is not None]
    return given[0] if given else None


class SlabSection(GeometrySection):
    """geometry.kind = "slab": the paper's CPP slab (fem_spin.geometry.mesh)."""


class RingSection(GeometrySection):
    """geometry.kind = "ring": the paper's square ring (fem_spin.geometry.ring)."""


class DeviceSection(GeometrySection):
    """geometry.kind = "gmsh": the user's device from a Gmsh file with named groups."""


GEOMETRY_KINDS: dict[str, type[GeometrySection]] = {"slab": SlabSection, "ring": RingSection,
                                                     "gmsh": DeviceSection}
SECTIONS: dict[str, type] = {
    "geometry": GeometrySection, "magnetization": MagnetizationSection, "material": MaterialSection,
    "field": FieldSection, "current": CurrentSection, "dynamics": DynamicsSection,
    "boundary": EndsSection, "discretization": DiscretizationSection, "solver": SolverSection,
    "output": OutputSection,
}
NAMED_SECTIONS: dict[str, type] = {"regions": RegionSection, "boundaries": BoundarySection}
# The key tables the validation walks (derived from the classes above: one source).
SCHEMA: dict[str, dict[str, Key]] = {name: keys_of(cls) for name, cls in SECTIONS.items()}
NAMED: dict[str, dict[str, Key]] = {name: keys_of(cls) for name, cls in NAMED_SECTIONS.items()}
STAGE_KEYS: dict[str, Key] = keys_of(StageSection)
MATERIAL_PRESETS = ("paper",)
# Keys that describe the built-in geometries and mean nothing for a mesh file.
BUILTIN_GEOMETRY_KEYS = ("length_nm", "width_nm", "h_interface_nm", "h_far_nm", "refine_distance_nm",
                         "mesh_file", "allow_coarse", "allow_large")
GMSH_GEOMETRY_KEYS = ("file", "unit_nm", "parameters")
