"""Run a case, top to bottom: preflight, mesh, build, solve or evolve, write. Used by the
CLI, the sweeps and the demos; each stage lives in its own module (preflight, build, results)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fem_spin._backend import MPI
from fem_spin.app.build import build_domain, llg_of, make_problem, material_from, mean_edge
from fem_spin.app.preflight import check_resumable, check_size, preflight, report_stale_partials
from fem_spin.app.results import (ResultError, RunResult, check_finite, draw_pictures, peak_memory_mb,
                                  profile_samples, run_summary, versions, write_results)
from fem_spin.io.output import atomic_dir, sample
from fem_spin.io.model import Case, as_case, takes_case
from fem_spin.io.schema import DeviceSection
from fem_spin.physics.problem import SpinProblem
from fem_spin.progress import logger, stage


def run_case(case: Case | Mapping, output: Path | None, overwrite: bool = False,
             comm: MPI.Comm = MPI.COMM_WORLD, petsc_options: dict | None = None,
             shown_as: Path | None = None) -> RunResult:
    """Mesh, solve and (if output is given) write a case (typed, or a resolved table); returns
    the problem and summary.

    `shown_as`: the folder named in messages and records when `output` is a temporary one
    (a sweep writes into its own temporary folder and moves it into place at the end).
    """
    from fem_spin.parallel import on_root

    case = as_case(case)
    timings: dict[str, float] = {}
    on_node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    ranks_on_node = on_node.size
    on_node.Free()
    warning, case = on_root(comm, lambda: preflight(case, comm.size, ranks_on_node))
    if warning:
        logger.warning("warning: %s", warning)
    if output is not None and comm.rank == 0:
        report_stale_partials(Path(shown_as or output))
    cells = check_size(case, ranks=comm.size, ranks_on_node=ranks_on_node)
    if cells:
        logger.info("mesh: about %.2g cells expected", cells)

    with stage("mesh", comm, timings):
        domain = build_domain(case, comm)
    logger.info("mesh: %d cells, dim %d", domain.num_cells(), domain.mesh.topology.dim)
    problem = make_problem(case, domain, petsc_options)
    problem.timings = timings

    # A dynamic run writes its time series as it goes: the result folder opens first (still a
    # hidden temporary one, moved into place only when everything is written).
    if output is None:
        folder = contextlib.nullcontext()
    else:  # a dynamic run's folder outlives SIGTERM with its checkpoint, to go on from
        from fem_spin.parallel import Terminated

        folder = atomic_dir(output, comm, overwrite, resumable=case.dynamic,
                            keep_on=(Terminated,) if case.dynamic else ())
    with folder as tmp:
        rows = None
        if case.dynamic:
            if tmp is not None:
                check_resumable(case, tmp, comm)
            rows = run_coupled(case, problem, tmp)
            if tmp is not None and comm.rank == 0:
                (tmp / "case.resume.json").unlink(missing_ok=True)
        else:
            problem.solve()

        s, pts, abscissa = profile_samples(case, problem)
        values = sample(problem.m, pts)
        if isinstance(case.geometry, DeviceSection) and comm.rank == 0:  # a line may leave a device
            keep = ~np.isnan(values).any(axis=1)
            if not keep.all():
                logger.warning("warning: %d of %d points of the profile line lie outside the mesh "
                               "and are left out of profile.csv", np.count_nonzero(~keep), len(keep))
            s, values = s[keep], values[keep]
        check_finite(problem, values, abscissa)
        summary = run_summary(case, problem, values, material_from(case))
        if rows is not None:
            summary["dynamics"] = {"steps": len(rows) - 1, "final": rows[-1],
                                   "rejected_steps": rows[-1]["rejected_steps"],
                                   "max_norm_error": rows.max_norm_error,
                                   "energy_rises": rows.energy_rises,
                                   "max_error_estimate": rows.max_error_estimate,
                                   "split_steps": rows.split_steps}
            if rows.oersted_peak_T is not None:
                summary["dynamics"]["oersted_peak_T"] = rows.oersted_peak_T
            if rows.relaxed is not None or case.dynamics.relax:
                summary["dynamics"].update(relaxed=bool(rows.relaxed), max_torque_T=rows.max_torque_T)
                if rows.unrelaxed_stage is not None:
                    summary["dynamics"]["unrelaxed_stage"] = rows.unrelaxed_stage
        result = RunResult(problem, output, summary, values)
        if output is not None:
            with stage("write", comm, timings):
                write_results(case, problem, tmp, s, values, abscissa)

    summary["timings_s"] = timings
    summary["peak_memory_mb"] = peak_memory_mb(comm)
    logger.info("peak memory %.0f MB (all %d ranks; largest rank %.0f MB)",
                summary["peak_memory_mb"]["all_ranks"], comm.size, summary["peak_memory_mb"]["largest_rank"])
    if output is None:
        return result
    # summary.json after the move (it has the write stage's time), again after the pictures
    # (their time and bytes): a run stopped while drawing still has a complete result.
    write_summary(summary, Path(output), comm)
    drawn = draw_pictures(case, Path(output), rows, comm)
    if drawn is not None:
        summary["timings_s"]["pictures"] = drawn
        write_summary(summary, Path(output), comm)
    logger.info("results in %s", shown_as or output)
    if case.dynamic and rows.unrelaxed_stage is not None and case.dynamics.stages:
        k = rows.unrelaxed_stage
        st = case.dynamics.stages[k - 1]
        raise ResultError(f"[dynamics.stages[{k}]] relax did not converge within its t_end_s = {st.t_end_s:g} s: "
                          f"the largest torque is {rows.max_torque_T:.3g} T, above relax_torque_T = "
                          f"{st.relax_torque_T:g} T; the run stopped there and its last state is in "
                          f"{shown_as or output} (a longer t_end_s or a larger dt_s goes further)")
    if case.dynamic and case.dynamics.relax and not rows.relaxed:
        dyn = case.dynamics
        raise ResultError(f"[dynamics] relax did not converge by t_end_s = {dyn.t_end_s:g} s: the largest "
                          f"torque is {rows.max_torque_T:.3g} T, above relax_torque_T = {dyn.relax_torque_T:g} "
                          f"T; the last state is in {shown_as or output} (a longer t_end_s or a larger dt_s "
                          "goes further)")
    return result


def write_summary(summary: dict, output: Path, comm: MPI.Comm) -> None:
    """summary.json (rank 0), replaced whole; bytes_written counts the folder as it is."""
    if comm.rank == 0:
        summary["bytes_written"] = sum(f.stat().st_size for f in output.rglob("*") if f.is_file())
        logger.info("wrote %.1f MB", summary["bytes_written"] / 1e6)
        partial = output / ".summary.json.partial"
        partial.write_text(json.dumps({**summary, "versions": versions()}, indent=2) + "\n")
        partial.replace(output / "summary.json")


@takes_case
def run_coupled(case: Case, problem: SpinProblem, folder: Path | None):
    """[dynamics]: the LLG of the magnets coupled to the accumulation; returns the table."""
    from fem_spin.io.ovf import write_state_ovf
    from fem_spin.physics.dynamics import Coupling, Stage, run_dynamics

    llg = llg_of(case, problem)
    coef, dyn = problem.coef, case.dynamics
    if case.driven:  # m in A/m: B_sd = +omega0 m/(gamma Ms)
        scale = coef.cellwise({id(r): (1.0 / r.Ms if r.magnetization is not None else 0.0)
                               for _, r in coef.regions})
    else:
        scale = dyn.rho
    coupling = Coupling(problem, llg, scale, electron_dt=dyn.dt_s if dyn.electrons == "transient" else None,
                        reuse=dyn.reuse_solver)
    stages = [Stage(st.t_end_s, st.dt_s, tuple(st.B_T), st.alpha_G, st.relax, st.relax_torque_T)
              for st in dyn.stages] or None
    magnets = llg.cell_tags.indices[llg.cell_tags.values > 0]
    step = mean_edge(problem.domain.mesh)

    def state_file(name: str, t: float) -> None:
        """The state as OVF 2.0 (u_final.ovf, u_stageK.ovf): the next case's initial u."""
        if folder is not None:
            write_state_ovf(folder / name, llg.u, magnets, step, f"fem_spin u at t = {t:.6g} s")

    try:
        rows = run_dynamics(coupling, dyn.t_end_s, dyn.dt_s, folder, dyn.output_every, case.magnet_names(),
                            vtx=case.output.vtx, tolerance=dyn.tolerance,
                            checkpoint_every=dyn.checkpoint_every,
                            held=[n for n, r in case.regions.items() if r.magnet and not r.dynamic],
                            si=case.driven, relax_torque=dyn.relax_torque_T if dyn.relax else None,
                            stages=stages, order=dyn.order,
                            on_stage_end=(lambda k, t: state_file(f"u_stage{k}.ovf", t)) if stages else None)
        state_file("u_final.ovf", rows[-1]["t_s"])
        if llg.B_static is not None:  # the Oersted field's largest |B| in the magnets, for summary.json
            from fem_spin.physics.device_fields import largest_norm

            rows.oersted_peak_T = largest_norm(llg.B_static)
        return rows
    finally:
        coupling.destroy()
        llg.destroy()
