"""The coupled system of Eq. 79: the magnetization's LLG equation driven by the spin
accumulation, with the electrons following quasi-statically (MODEL.md, "Magnetization dynamics").

Every step: M/M0 = mu0 u in the spin problem's coefficients (mu0, the initial |M/M0|, keeps a
spacer's dip), the steady accumulation m (same matrix structure and solver object; only the
coefficients change), the sd field B_sd = +(omega0 rho/gamma) m (normalised m; rho = s0/Ms) or
+(omega0/(gamma Ms)) m (m in A/m with a current drive), then one step of u.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fem_spin._backend import MPI, dolfinx
from fem_spin.physics.coefficients import GAMMA
from fem_spin.physics.groups import GroupInterpolation
from fem_spin.physics.integrals import RegionMeans
from fem_spin.physics.llg import LLG, StepNotConverged
from fem_spin.io.vtu import VTUSeries
from fem_spin.physics.problem import SpinProblem
from fem_spin.progress import logger, stage


DYNAMICS_RTOL = 1e-8  # the electron solves' relative tolerance per step (reuse), unless given
# A fixed order-2 step whose embedded error estimate (of u, per step) passes this is logged once:
# tolerance 1e-3 already lets the damping drift 4% (docs/micromagnetics.md), and an unresolved
# step's estimate is 1e-1 (the coupled spin valve at 1 ps, 36% off in <u>)
UNRESOLVED_STEP = 1e-3


@dataclass
class Coupling:
    """Ties an LLG integrator to a spin problem.

    Attributes:
        problem: the spin-accumulation problem (its coefficients' M follows u on the LLG's
            magnet cells).
        llg: the magnetization's integrator.
        sd_scale: B_sd = +sd_scale * omega0 * m / gamma: rho (normalised m) or 1/Ms (m in A/m),
            a number or a UFL coefficient (per region).
        electron_dt: None: the electrons follow quasi-statically (a steady solve per update);
            a step in s: each update is one backward-Euler step of the transient electron
            equation from the current m (for the conservation check C9 and fast magnets).
        reuse: do not redo per step what did not change (issue 19): the electron matrix's
            part on the cells whose M does not move is assembled once, the preconditioner is
            kept while that is cheaper than rebuilding it (LinearSolver.reuse), and each solve
            starts from m extrapolated from the last two. False: a full assembly, a fresh
            preconditioner and a zero start at every step (as before; the same trajectory to
            the solver's tolerance).
    """

    problem: SpinProblem
    llg: LLG
    sd_scale: object
    electron_dt: float | None = None
    reuse: bool = True
    solver: object = None
    mu0: np.ndarray = field(default=None, repr=False)

    def __post_init__(self) -> None:
        M = self.problem.coef.M
        self.mu0 = np.linalg.norm(M.x.array.reshape(-1, 3), axis=1)
        self._u_dg = dolfinx.fem.Function(M.function_space)
        U = self.llg.U
        scale = self.sd_scale
        expr = (scale * self.problem.coef.omega0 / GAMMA) * self.problem.m
        zero = isinstance(scale, (int, float)) and scale == 0  # no drive: B_sd stays 0
        self._bsd = None if zero else dolfinx.fem.Expression(expr, U.element.interpolation_points)
        # B_sd onto the moving magnets' nodes: the group's counts once, not every step
        self._to_llg = None if zero else GroupInterpolation(U, self.llg.cells_moving)
        self._m_old = None
        self._history = None  # the last two (t, m) solved, for the initial guess
        if self.electron_dt is None:
            self.solver = self.problem.make_solver()
        else:
            from fem_spin.physics.forms import SpinForm

            p = self.problem
            self._m_old = dolfinx.fem.Function(p.V, name="m_old")
            dt = dolfinx.fem.Constant(p.V.mesh, dolfinx.default_scalar_type(self.electron_dt / p.coef.t0))
            form = SpinForm(p.V, p.coef, dt=dt, m_old=self._m_old, theta=1.0,
                            quadrature_degree=p.form.quadrature_degree, neumann=p.form.neumann,
                            drift=p.form.drift)
            self.solver = p.make_solver(form.bilinear(), form.linear())
        # transient electrons precess at omega0 between steps: their B_sd is taken as it is, not
        # extrapolated to mid-step (the midpoint's extrapolation of that oscillation grew)
        self.llg.extrapolate_sd = self.electron_dt is None
        # Nothing reads m between outputs when no B_sd acts and the electrons carry no state.
        self.couples = self._bsd is not None or self._m_old is not None
        if self.reuse:  # the LLG's cell tags: 1 moving magnets, 2 held ones, 0 the rest
            self.solver.split(self.llg.cell_tags, moving=1, fixed=(0, 2))
            self.solver.reuse()
            self.solver.ksp.setInitialGuessNonzero(True)
            if not self.solver.user_set("ksp_rtol"):
                # m to 1e-8 of the right side moves u by far less than 1e-6 over 200 steps
                # (tests/test_step_cost.py) and saves a third of the iterations of 1e-10;
                # a case's or the command line's -fem_spin_spinN_ksp_rtol wins
                self.solver.ksp.setTolerances(rtol=DYNAMICS_RTOL)

    def update_accumulation(self, needed: bool = True, t: float | None = None) -> bool:
        """M = mu0 u on the moving magnets (a held magnet's M keeps its initial values bit for
        bit, also in its cells next to a moving one, whose shared nodes move), then m (steady,
        or one transient step) and B_sd. Skipped unless `needed` or m couples to the LLG;
        returns whether m is now current. `t`: the time of this u; with reuse, the solve then
        starts from m extrapolated linearly from the last two solves (a residual of O(dt^2),
        not O(dt): fewer iterations)."""
        if not (needed or self.couples):
            return False
        M = self.problem.coef.M
        self._u_dg.interpolate(self.llg.u, cells0=self.llg.cells_moving)
        d = self._u_dg.x.array.reshape(-1, 3)
        n = np.linalg.norm(d, axis=1)
        d[n > 0] /= n[n > 0, None]  # u is unit at the nodes; DG_k nodes between them are not
        new = M.x.array.reshape(-1, 3)
        mask = n > 0
        new[mask] = self.mu0[mask, None] * d[mask]
        M.x.scatter_forward()
        if self._m_old is not None:  # transient electrons: one step from the current m
            self._m_old.x.array[:] = self.problem.m.x.array
        self.solver.assemble_matrix()
        m = self.problem.m
        if self.reuse and t is not None:
            self._extrapolate(m.x.array, t)
        self.solver.solve(m)
        if self.reuse and t is not None:
            self._history = (self._history or [])[-1:] + [(t, m.x.array.copy())]
        self._pass_sd_field()
        return True

    def _extrapolate(self, m: np.ndarray, t: float) -> None:
        """m <- the linear extrapolation to t of the last two solves (nothing with fewer)."""
        if self._history is None or len(self._history) < 2:
            return
        (t0, m0), (t1, m1) = self._history
        if t1 > t0 and t > t1:
            m[:] = m1 + (t - t1) / (t1 - t0) * (m1 - m0)

    def _pass_sd_field(self) -> None:
        """B_sd of the current m to the LLG, from the moving magnets' cells only, on every rank
        that has a node (groups.GroupInterpolation, made once): a node shared with a normal metal's cell, whose
        scale is 0, takes the magnet's value, so the field does not depend on the partition
        (interpolating on every cell left it 0 at 21 of 90 Co/Pt interface nodes on 1 rank and
        49 on 2)."""
        if self._bsd is not None:
            self._to_llg(self.llg.B_sd, self._bsd)

    def prime(self) -> None:
        """Before the first step (or after a restart): quasi-static electrons solve for m; transient
        ones keep the m they have (their initial condition) and only pass it to the LLG."""
        if self._m_old is None:
            self.update_accumulation()
        else:
            self._pass_sd_field()

    def destroy(self) -> None:
        self.solver.destroy()


HALVINGS = 4  # a fixed step whose midpoint iteration fails is retried as 2, 4, 8, 16 shorter ones


def fixed_step(llg: LLG, dt: float, halvings: int = HALVINGS) -> int:
    """One step of dt. An order-2 step whose fixed point does not converge (a stiff moment: SP4's
    film at 0.5 ps just after its reversal) is taken as two of dt/2 instead, and so on down to
    dt/2^halvings, so the run keeps its output times; returns how many steps were split (0 as
    a rule). Collective: every rank sees the same failure."""
    if llg.order != 2:
        llg.step(dt)
        return 0
    u0, history = llg.u.x.array.copy(), llg.history()
    try:
        llg.step(dt)
        return 0
    except StepNotConverged:
        if halvings == 0:
            raise
    llg.u.x.array[:] = u0
    llg.restore_history(history)
    return 1 + fixed_step(llg, dt / 2, halvings - 1) + fixed_step(llg, dt / 2, halvings - 1)


def adaptive_step(llg: LLG, dt: float, tolerance: float) -> tuple[float, float, float, int]:
    """One accepted step whose local error estimate (max over the moving nodes of |du|) is at
    most `tolerance`; a step above it is rejected and retried shorter. Order 2: the midpoint
    step's embedded estimate (LLG.error_estimate: its distance from the velocity extrapolated
    from the last two steps), no extra solve; the controller's exponent 1/3 (local error
    O(dt^3)). Order 1: step doubling, a step of dt against two of dt/2 (local error O(dt^2),
    exponent 1/2), u becoming the two-half-step result. Returns (step taken, error estimate,
    next step, rejected count)."""
    comm = llg.mesh.comm
    u0 = llg.u.x.array.copy()
    history = llg.history()
    rejected = 0
    power = 1.0 / 3.0 if llg.order == 2 else 0.5
    while True:
        if llg.order == 2:
            try:
                llg.step(dt)
                err = llg.error_estimate
            except StepNotConverged:  # collective: every rank saw the same change
                err = np.inf
        else:
            llg.step(dt)
            big = llg.u.x.array.copy()
            llg.u.x.array[:] = u0
            llg.step(dt / 2)
            llg.step(dt / 2)
            diff = (big - llg.u.x.array).reshape(-1, 3)[llg.moving]
            err = comm.allreduce(float(np.max(np.linalg.norm(diff, axis=1), initial=0.0)), op=MPI.MAX)
        factor = 5.0 if err == 0 else 0.2 if not np.isfinite(err) else \
            min(5.0, max(0.2, 0.9 * (tolerance / err) ** power))
        if err <= tolerance:
            return dt, err, dt * factor, rejected
        rejected += 1
        logger.info("  step rejected: dt = %.3g s, error estimate %.2e > tolerance %.2e; retrying "
                    "with dt = %.3g s", dt, err, tolerance, dt * factor)
        llg.u.x.array[:] = u0
        llg.restore_history(history)
        dt *= factor
        if dt < 1e-21:
            raise RuntimeError(f"adaptive step fell below 1e-21 s (error estimate {err:.3g}): the "
                               "magnetization is not resolved; check the material parameters")


class Table:
    """The dynamics table, a row per step: with a folder every row goes to dynamics.csv as it
    comes (rank 0) and only the last row and the running maxima stay in memory, so memory and
    checkpoints do not grow with the steps (issue 23); without one every row is kept. Reads as
    a sequence of rows (`len`, `[-1]`, iteration)."""

    def __init__(self, path: Path | None, comm, resume: dict | None = None):
        self.path, self.comm = path, comm
        self.count = resume["rows"] if resume else 0
        self.last = resume["last_row"] if resume else None
        # the last row whose energies are known (demag_every > 1 leaves them NaN between solves)
        self.last_energies = resume.get("last_energies", self.last) if resume else None
        self.max_norm_error = resume["max_norm_error"] if resume else 0.0
        self.energy_rises = resume.get("energy_rises", 0) if resume else 0
        self.max_error_estimate = resume.get("max_error_estimate", 0.0) if resume else 0.0
        self.split_steps = resume.get("split_steps", 0) if resume else 0  # fixed_step's
        self.rise_stage = None
        self.relaxed, self.max_torque_T = False, None  # relaxation's verdict (run_dynamics)
        self.unrelaxed_stage = None
        self.oersted_peak_T = None  # set by the runner when an Oersted field acts
        self._rows: list[dict] = []
        self._fh = self._writer = None
        if path is not None and comm.rank == 0:
            if resume:  # drop rows written after the checkpoint (a stop between the two)
                lines = path.read_text().splitlines(keepends=True)[: self.count + 1]
                path.write_text("".join(lines))
            self._fh = open(path, "a" if resume else "w", newline="")

    def append(self, row: dict) -> None:
        if self.path is None:
            self._rows.append(row)
        elif self._fh is not None:
            if self._writer is None:
                fields = list(row) if self.count == 0 else self._resumed_header(row)
                self._writer = csv.DictWriter(self._fh, fieldnames=fields, restval="nan")
                if self.count == 0:
                    self._writer.writeheader()
            self._writer.writerow(row)
        self.count += 1
        self.last = row
        if np.isfinite(row.get("total_J", np.nan)):
            self.last_energies = row
        self.max_norm_error = max(self.max_norm_error, row["max_norm_error"])
        self.max_error_estimate = max(self.max_error_estimate, row.get("error_estimate", 0.0))

    def _resumed_header(self, row: dict) -> list[str]:
        """The columns of a resumed table: the file's, and any new ones of this version (e.g.
        demag_nodal_J after a checkpoint of an older one) added to its header with "nan" in its
        rows, so every row has the header's columns (a longer row would shift them)."""
        self._fh.close()
        with open(self.path, newline="") as fh:
            reader = csv.DictReader(fh)
            old = list(reader.fieldnames or [])
            added = [k for k in row if k not in old]
            rows = list(reader) if added else []
        fields = old + added
        if added:
            tmp = self.path.with_suffix(".csv.tmp")
            with open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields, restval="nan")
                writer.writeheader()
                writer.writerows(rows)
            tmp.replace(self.path)
        self._fh = open(self.path, "a", newline="")
        return fields

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def state(self) -> dict:
        return {"rows": self.count, "last_row": self.last, "last_energies": self.last_energies,
                "max_norm_error": self.max_norm_error, "energy_rises": self.energy_rises,
                "max_error_estimate": self.max_error_estimate, "split_steps": self.split_steps}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> dict:
        if i in (-1, self.count - 1):
            return self.last
        return self.all()[i]

    def __iter__(self):
        return iter(self.all())

    def all(self) -> list[dict]:
        """Every row (read back from dynamics.csv when there is one; rank 0)."""
        return self._rows if self.path is None else read_table(self.path)


def read_table(path: Path) -> list[dict]:
    """The rows of a dynamics.csv."""
    with open(path, newline="") as fh:
        return [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(fh)]


def first_crossing(t, x, level: float = 0.0) -> float | None:
    """The first time a column of dynamics.csv crosses level (linear between the rows), e.g. the
    switching time as the first zero of <u_x>; None if it never does."""
    d = np.sign(np.asarray(x, dtype=float) - level)
    i = np.nonzero(d[1:] != d[:-1])[0]
    if not len(i):
        return None
    i = int(i[0])
    return float(t[i] + (level - x[i]) * (t[i + 1] - t[i]) / (x[i + 1] - x[i]))


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def write_state(folder: Path, llg: LLG, m, state: dict) -> None:
    """The checkpoint of a dynamic run: u and m (fem_spin.io.checkpoint) and state.json (time, step,
    next dt, the table so far, the time series' entries), replaced whole (a kill during the
    write leaves the previous checkpoint)."""
    from fem_spin.io.checkpoint import write_checkpoint

    from fem_spin.parallel import on_root

    comm = llg.mesh.comm
    new = folder / "checkpoint.new"
    arrays, numbers = history_state(llg)
    state = {**state, "scheme": numbers}
    write_checkpoint(new, {"u": llg.u, "m": m, **arrays})

    def replace() -> None:
        (new / "state.json").write_text(json.dumps(state) + "\n")
        old = folder / "checkpoint"
        if old.exists():
            shutil.rmtree(old)
        new.rename(old)

    # Rank 0 writes; a failure (a full disk) stops every rank here together, not one rank while
    # the others wait in the next collective call (issue 23: that hung).
    on_root(comm, replace, failures=(OSError,),
            explain=lambda exc: f"the checkpoint could not be written in {folder}: {exc}")


def read_state(folder: Path, llg: LLG, m) -> dict | None:
    """The state of folder/checkpoint (u read into the LLG, m into `m`), or None if there is none."""
    from fem_spin.io.checkpoint import CheckpointError, read_checkpoint

    comm = llg.mesh.comm
    path = folder / "checkpoint" / "state.json"
    state = comm.bcast(json.loads(path.read_text()) if comm.rank == 0 and path.is_file() else None, root=0)
    if state is not None:
        numbers = state.get("scheme")
        arrays = history_functions(llg, numbers) if numbers else {}
        try:
            read_checkpoint(folder / "checkpoint", {"u": llg.u, "m": m, **arrays})
        except CheckpointError as exc:  # collective: every rank compared the same mesh
            raise CheckpointError(f"{exc}. The stopped run's folder {str(folder)!r} is of the mesh before "
                                  "a change: --overwrite starts afresh (or remove that folder)") from None
        if numbers:
            restore_history_state(llg, arrays, numbers)
    return state


def history_state(llg: LLG) -> tuple[dict, dict]:
    """The LLG's scheme state (LLG.history) as P1 Functions to checkpoint and JSON numbers: a
    resumed run then takes the steps the uninterrupted one takes (order 2's velocities and
    extrapolated fields, demag_every's last solves), to round-off."""
    h = llg.history()
    arrays, U = {}, llg.U

    def fn(name, x):
        f = dolfinx.fem.Function(U)
        f.x.array[:] = x
        arrays[name] = f

    for i, (_, v) in enumerate(h["v_hist"]):
        fn(f"scheme_v{i}", v)
    for i, x in enumerate(h["prev"] or []):
        fn(f"scheme_prev{i}", x)
    for i, (_, _, r) in enumerate(h["solves"]):
        fn(f"scheme_solve{i}", r)
    numbers = {"prev_k": h["prev_k"], "v_k": [k for k, _ in h["v_hist"]],
               "prev": len(h["prev"] or []),
               "solves": [[n, t] for n, t, _ in h["solves"]], "steps": h["steps"], "clock": h["clock"],
               "demag_solved": h["demag_solved"]}
    return arrays, numbers


def history_functions(llg: LLG, numbers: dict) -> dict:
    """Empty Functions for the arrays a checkpoint's `scheme` numbers name."""
    names = ([f"scheme_v{i}" for i in range(len(numbers["v_k"]))]
             + [f"scheme_prev{i}" for i in range(numbers["prev"])]
             + [f"scheme_solve{i}" for i in range(len(numbers["solves"]))])
    return {n: dolfinx.fem.Function(llg.U) for n in names}


def restore_history_state(llg: LLG, arrays: dict, numbers: dict) -> None:
    """The inverse of `history_state`."""
    llg.restore_history({
        "prev_k": numbers["prev_k"],
        "v_hist": [(k, arrays[f"scheme_v{i}"].x.array) for i, k in enumerate(numbers["v_k"])],
        "prev": [arrays[f"scheme_prev{i}"].x.array for i in range(numbers["prev"])] or None,
        "solves": [(n, t, arrays[f"scheme_solve{i}"].x.array) for i, (n, t) in enumerate(numbers["solves"])],
        "steps": numbers["steps"], "clock": numbers["clock"], "demag_solved": numbers["demag_solved"]})


@dataclass(frozen=True)
class Stage:
    """One stage of a run: its length [s], step [s], applied field [T] (None: as built),
    damping of the moving magnets (None: their own), and whether it relaxes (damping only,
    ending early once the largest torque is below relax_torque [T])."""

    t_end: float
    dt: float
    B: tuple | None = None
    alpha_G: float | None = None
    relax: bool = False
    relax_torque: float | None = None


PROGRESS_EVERY_S = 5.0  # a progress line at the first step, then at most every 5 s


def duration(seconds: float) -> str:
    """A wall time as a person reads it."""
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def run_dynamics(coupling: Coupling, t_end: float, dt: float, folder: Path | None = None,
                 output_every: int = 10, regions: list[str] | None = None, vtx: bool = False,
                 callback: Callable[[float, Coupling], None] | None = None,
                 tolerance: float | None = None, checkpoint_every: int = 0,
                 stop_after: int | None = None, held: list[str] | None = None,
                 si: bool = False, relax_torque: float | None = None,
                 stages: list[Stage] | None = None, order: int = 2,
                 on_stage_end: Callable[[int, float], None] | None = None) -> Table:
    """Integrate from t = 0 (or a checkpoint in folder) to t_end [s]; returns the table of rows.

    Fixed steps dt, or adaptive ones (`tolerance`: step doubling, dt the first step). With a
    folder: time series u_t (P1) and m_t (m and T) as binary VTK XML .pvd collections (every
    ParaView; with `vtx` also VTX .bp), written every `output_every` steps and at the end,
    dynamics.csv (time, step, error estimate, rejected steps, energies, region averages of u
    and m, max | |u| - 1 |), and a checkpoint every `checkpoint_every` steps and on SIGTERM, from
    which a later call with the same folder goes on. `stop_after`: act as if SIGTERM came
    after this many steps (tests). `held`: the regions among `regions` whose magnet is held
    (their u in the table is their constant M/M0). `si`: the series' fields carry SI names
    (m_A_per_m, T_A_per_m_s), as fields.pvd does with a charge-current drive. `relax_torque`
    [T]: stop early, at the first step whose largest torque (LLG.max_torque) is below it; the
    table's `relaxed` and `max_torque_T` say whether and where it stopped.

    `stages`: instead of (t_end, dt, relax_torque), a sequence of Stages run one after the
    other (fixed steps; the table gains a `stage` column, numbered from 1), each setting the
    LLG's field, damping, precession and `order` (relax stages are first order) at its start;
    `on_stage_end(stage, t)` is called after each. A relax stage that ends unrelaxed ends the
    run (`relaxed` False, `unrelaxed_stage` its number).
    """
    from fem_spin.parallel import Terminated, on_sigterm, restore_sigterm

    fixed = tolerance is None
    staged = bool(stages)
    if staged and not fixed:
        raise ValueError("stages take fixed steps: no tolerance")
    if not staged:
        stages = [Stage(t_end, dt, relax=relax_torque is not None, relax_torque=relax_torque)]
    counts = [int(round(st.t_end / st.dt)) for st in stages]
    for st, count in zip(stages, counts):
        if fixed and (count < 1 or abs(count * st.dt - st.t_end) > 1e-9 * st.t_end):
            raise ValueError(f"t_end = {st.t_end!r} s is not a whole number of steps dt = {st.dt!r} s")
    t_end = sum(st.t_end for st in stages)
    any_relax = any(st.relax for st in stages)
    llg, problem = coupling.llg, coupling.problem
    comm = problem.domain.comm
    regions = regions or []
    # A held magnet's u is its M/M0 (what the electrons see, constant): the P1 u at a node it
    # shares with a moving magnet is the moving one's.
    held = set(held or [])
    means = RegionMeans(problem.domain, {"u": {n: problem.coef.M if n in held else llg.u for n in regions},
                                         "m": problem.m}, regions)
    # one name per quantity in every file of a run: fields.pvd's (SI names with a drive)
    from fem_spin.io.output import field_name

    problem.m.name = field_name("m", si)
    T = dolfinx.fem.Function(problem.V, name=field_name("T", si))
    T_expr = dolfinx.fem.Expression(problem.torque(), problem.V.element.interpolation_points)
    state = read_state(folder, llg, problem.m) if folder is not None else None
    t, n, rejected = (state["t_s"], state["step"], state["rejected"]) if state else (0.0, 0, 0)
    # the stage under way, when it began (time, step); a relax stage may end early
    k_stage, t0_stage, n0_stage = (state.get("stage", [0, 0.0, 0]) if state else [0, 0.0, 0])
    rows = Table(folder / "dynamics.csv" if folder is not None else None, comm, state and state["table"])
    dt = state["next_dt_s"] if state and not fixed else dt
    writers = []
    if folder is not None:
        # the magnetostatic fields beside u (B_demag of the written u; B_oersted is steady)
        fields_u = [llg.u] + [f for f in (llg.B_demag, llg.B_static) if f is not None]
        for name, funcs in {"u_t": fields_u, "m_t": [problem.m, T]}.items():
            writers.append(VTUSeries(folder, name, funcs, entries=(state or {}).get("series", {}).get(name)))
            if vtx and dolfinx.common.has_adios2:
                writers.append(dolfinx.io.VTXWriter(comm, folder / f"{name}.bp", funcs, engine="BP4"))
    if state:
        logger.info("resuming from the checkpoint at t = %.4g s (step %d)", t, n)

    def record(t: float, err: float, write: bool, m_current: bool = True) -> None:
        row = {"t_s": t, "step": n, **({"stage": k_stage + 1} if staged else {}),
               "dt_s": t - rows[-1]["t_s"] if len(rows) else 0.0,
               "error_estimate": err, "rejected_steps": rejected, "split_steps": rows.split_steps,
               **llg.energies(solve=write), "max_norm_error": llg.max_norm_error()}
        if any_relax:  # the relaxation's progress (NaN outside relax stages and at t = 0)
            here = stages[k_stage].relax and rows.max_torque_T is not None and len(rows)
            row["max_torque_T"] = rows.max_torque_T if here else float("nan")
        row.update(means())
        # With damping and nothing driving (no B_sd; static fields only) the energy of a stage
        # must not rise: a rise says the step is too long for the explicit fields. Counted in
        # the table (summary.json) and logged once per stage. Not in relaxation, whose long
        # steps may overshoot on the way (its test is the torque). With demag, the energy is
        # that of the field the steps use (LLG.stepped_total).
        # the last row with energies (between the demag's solves, demag_every > 1, they are NaN)
        prev = rows.last_energies if np.isfinite(row["total_J"]) else None
        rise = 0.0
        if prev is not None:  # a row resumed from an older checkpoint may lack the nodal column
            rise = (llg.stepped_total(row) - llg.stepped_total(prev) if "demag_nodal_J" in prev
                    else row["total_J"] - prev["total_J"])
        if (not coupling.couples and prev is not None and prev.get("stage") == row.get("stage")
                and not stages[k_stage].relax and rise > 1e-9 * abs(prev["total_J"])):
            rows.energy_rises += 1
            if rows.energy_rises == 1 or row.get("stage") != rows.rise_stage:
                hint = ""
                field = getattr(llg.demag, "field", None)
                if field is not None:  # B_d and its energy carry the potential's CG error
                    hint = f"; or the demag solve's tolerance (its CG stops at {field.ksp.getTolerances()[0]:g} " \
                        f"of the right side): -{field.prefix}ksp_rtol 1e-9 tells the two apart"
                logger.warning("warning: the total energy rose by %.3g J (%.2g of it) at step %d, with "
                               "damping and no drive: a shorter dt_s follows the LLG more closely%s",
                               rise, rise / abs(prev["total_J"]), n, hint)
                rows.rise_stage = row.get("stage")
        if not m_current:  # not solved at this step (nothing couples to it): no stale numbers
            row.update({k: float("nan") for k in row if k.startswith("m_")})
        rows.append(row)
        if write and writers:
            T.interpolate(T_expr)  # only the files need T (B_demag is u's: llg.energies() updated it)
            for w in writers:
                w.write(t)
        if callback:
            callback(t, coupling)

    def save() -> None:
        series = {w.name: w.entries for w in writers if isinstance(w, VTUSeries)}
        rows.flush()  # the table on disk holds every row the checkpoint counts
        write_state(folder, llg, problem.m, {"t_s": t, "step": n, "rejected": rejected, "next_dt_s": dt,
                                             "stage": [k_stage, t0_stage, n0_stage],
                                             "table": rows.state(), "series": series})

    # SIGTERM only sets a flag, checked between steps on every rank together, so the checkpoint
    # is of one consistent step.
    flag = {"stop": False}
    previous = on_sigterm(lambda signum, frame: flag.update(stop=True))
    wall = last_log = time.perf_counter()
    t_start, n_start = t, n
    try:
        with stage("dynamics", comm, problem.timings):
            coupling.prime()
            if not state:
                record(0.0, 0.0, True)
            # relaxed: no relax stage ended unrelaxed (None: there is none)
            rows.relaxed = True if any(st.relax for st in stages) else None
            rows.unrelaxed_stage = None
            while k_stage < len(stages):
                st = stages[k_stage]
                if staged:
                    llg.set_stage(B=st.B, alpha_G=st.alpha_G, precession=not st.relax,
                                  order=1 if st.relax else order)
                    if n == n0_stage:
                        logger.info("stage %d of %d: %s, %.4g s, dt = %.3g s, B = %s T%s", k_stage + 1,
                                    len(stages), "relax" if st.relax else "dynamics", st.t_end, st.dt,
                                    list(st.B) if st.B is not None else "as [field]",
                                    f", alpha_G = {st.alpha_G:g}" if st.alpha_G is not None else "")
                t_stop = t0_stage + st.t_end if staged else t_end
                done = False  # the stage relaxed
                while t_stop - t > 1e-9 * t_end:
                    if fixed:
                        split = fixed_step(llg, st.dt)
                        if split and not rows.split_steps:
                            logger.warning("warning: the midpoint step's fixed point did not converge at "
                                           "t = %.4g s with dt = %.3g s: that step was taken as shorter "
                                           "ones (dynamics.csv's split_steps counts them; a shorter dt_s "
                                           "avoids it)", t, st.dt)
                        rows.split_steps += split
                        n += 1
                        # order 2 estimates its local error at no cost: a fixed step that does
                        # not resolve the dynamics is said once (the table keeps every value)
                        err = llg.error_estimate if llg.order == 2 and llg.estimate_embedded else 0.0
                        if err > UNRESOLVED_STEP and rows.max_error_estimate <= UNRESOLVED_STEP:
                            logger.warning("warning: the step's error estimate is %.2g at t = %.4g s, "
                                           "above %g: dt_s = %.3g s does not resolve the dynamics "
                                           "(tolerance = 1e-4 takes adaptive steps that do; or a "
                                           "shorter dt_s)", err, t + st.dt, UNRESOLVED_STEP, st.dt)
                        t = t0_stage + (n - n0_stage) * st.dt
                    else:
                        h = min(dt, t_end - t)
                        h, err, dt, rej = adaptive_step(llg, h, tolerance)
                        rejected += rej
                        n += 1
                        t = t + h if t_end - (t + h) > 1e-9 * t_end else t_end
                    if st.relax:
                        rows.max_torque_T = llg.max_torque()
                        done = rows.max_torque_T < st.relax_torque
                    last = t >= t_stop - 1e-9 * t_end
                    write = n % output_every == 0 or last or done
                    record(t, err, write, coupling.update_accumulation(needed=write, t=t))
                    now = time.perf_counter()
                    if n - n_start == 1 or now - last_log >= PROGRESS_EVERY_S or last or done:
                        # rank 0's clock alone decides: logging is not collective
                        last_log, per_step = now, (now - wall) / (n - n_start)
                        # the end as it stands: a relax stage that ended early moved it forward
                        later = stages[k_stage + 1:]
                        t_final = t_stop + sum(s.t_end for s in later)
                        left = ((t_stop - t) / st.dt + sum(s.t_end / s.dt for s in later)) * per_step \
                            if fixed else (now - wall) * (t_end - t) / max(t - t_start, 1e-300)
                        logger.info("  step %d, t = %.4g s of %.4g, dt = %.3g s, %.3g s/step, wall %.1f s, "
                                    "about %s to t_end, E = %.4g J%s%s", n, t, t_final, rows[-1]["dt_s"],
                                    per_step, now - wall, duration(left), rows.last_energies["total_J"],
                                    f", {rejected} rejected" if not fixed else "",
                                    f", largest torque {rows.max_torque_T:.3g} T" if st.relax else "")
                    if done:
                        logger.info("  relaxed at t = %.4g s (step %d): the largest torque %.3g T is below "
                                    "%.3g T", t, n, rows.max_torque_T, st.relax_torque)
                        break
                    stop = comm.allreduce(flag["stop"] or n == stop_after, op=MPI.LOR)
                    if folder is not None and (stop or checkpoint_every and n % checkpoint_every == 0) \
                            and not last:
                        save()
                    if stop:
                        where = f"checkpoint at t = {t:.4g} s (step {n}) kept in {folder}; run the same " \
                            "command again to go on" if folder is not None else "no checkpoint (no folder)"
                        raise Terminated(where)
                if on_stage_end is not None:
                    on_stage_end(k_stage + 1, t)
                if st.relax and not done:
                    rows.relaxed, rows.unrelaxed_stage = False, k_stage + 1
                    break
                k_stage, t0_stage, n0_stage = k_stage + 1, t, n
    finally:
        restore_sigterm(previous)
        rows.close()
        for w in writers:
            w.close()
    problem.M.interpolate(problem.coef.M)  # the output copy of M, in the space of m
    if folder is not None and comm.rank == 0:
        shutil.rmtree(folder / "checkpoint", ignore_errors=True)  # finished: nothing to go on from
    return rows


def plot_dynamics(rows: list[dict], regions: list[str], png: Path, title: str = "") -> Path:
    """Region averages of u (and the total energy) against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([r["t_s"] for r in rows]) * 1e9
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for name in regions:
        for i, c in enumerate("xyz"):
            axes[0].plot(t, [r[f"u_{c}_{name}"] for r in rows], ["-", "--", ":"][i],
                         color=f"C{regions.index(name)}", label=f"<u_{c}> {name}")
    axes[0].set_xlabel("t [ns]")
    axes[0].set_ylabel("region average of u")
    axes[0].legend(fontsize=7, ncol=2)
    E = np.array([r["total_J"] for r in rows])
    known = np.isfinite(E)  # demag_every > 1: the energies of the solved steps only
    axes[1].plot(t[known], E[known])
    axes[1].set_xlabel("t [ns]")
    axes[1].set_ylabel("total energy [J] (dynamics.csv's total_J)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png
