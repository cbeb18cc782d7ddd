"""The `fem-spin` command: run, mesh, sweep, plot, info and schema.

Exit codes: 0 success, 2 bad input (case file, options, output folder), 1 a failed
solve or any other error. Under MPI, input is read and checked on rank 0 and the
verdict broadcast, so every rank stops together and the message prints once; an
unexpected error on a single rank prints there and aborts all ranks (no hang).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from fem_spin import __version__
from fem_spin.io.case import InputError
from fem_spin.parallel import (SharedFailure, Terminated, launcher_mismatch, on_root, on_sigterm,
                               restore_sigterm)

EXIT_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 1, 130, 143


class UsageError(InputError):
    """Bad command-line input (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would sys.exit(2) on every rank by itself
        raise UsageError(message)


def parse_petsc_options(tokens: Sequence[str]) -> dict[str, str]:
    """`-ksp_type gmres -ksp_monitor` -> {"ksp_type": "gmres", "ksp_monitor": ""}."""
    opts: dict[str, str] = {}
    key = None
    for tok in tokens:
        if tok.startswith("-") and not _is_number(tok):
            key = tok.lstrip("-")
            if not key:
                raise UsageError(f"bad PETSc option {tok!r}")
            opts[key] = ""
        elif key is not None and opts[key] == "":
            opts[key] = tok
        else:
            raise UsageError(f"PETSc option value {tok!r} has no option name before it")
    return opts


def _is_number(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fem-spin", description="Spin accumulation in non-uniform ferromagnets "
                "(tensor spin diffusion, Hitchon, Parker & Rebei). Run under mpirun for parallel.")
    p.add_argument("--version", action="version", version=f"fem-spin {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp):
        g = sp.add_mutually_exclusive_group()
        g.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
        g.add_argument("-v", "--verbose", action="store_true", help="debug output")

    r = sub.add_parser("run", help="solve a case and write results",
                       epilog="PETSc options after `--` go to the solver, e.g. "
                       "`fem-spin run case.toml -- -ksp_monitor -pc_type lu`")
    r.add_argument("case", type=Path, help="TOML case file")
    r.add_argument("-o", "--output", type=Path, help="result folder (default: output.folder)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing result folder")
    common(r)

    m = sub.add_parser("mesh", help="write the case's Gmsh mesh (.msh) for runs without meshing")
    m.add_argument("case", type=Path)
    m.add_argument("-o", "--output", type=Path, help="mesh file (default: CASE.msh)")
    m.add_argument("--overwrite", action="store_true")
    common(m)

    s = sub.add_parser("sweep", help="run a case for several values of one or more keys")
    s.add_argument("case", type=Path)
    s.add_argument("--param", required=True, action="append", metavar="SECTION.KEY=V1,V2,...",
                   help="e.g. magnetization.theta_deg=0,45,90 or magnetization.u_left=[0,0,1],[0,1,0]; "
                   "repeat --param to sweep the product of several keys")
    s.add_argument("-o", "--output", type=Path, help="sweep folder (default: output.folder)")
    s.add_argument("--overwrite", action="store_true")
    common(s)

    pl = sub.add_parser("plot", help="PNG pictures from a finished result folder")
    pl.add_argument("result", type=Path)
    common(pl)

    i = sub.add_parser("info", help="versions of fem_spin, DOLFINx, PETSc, MPI and the rank count")
    common(i)

    sc = sub.add_parser("schema", help="print the case files' JSON Schema (for editors: "
                        "`fem-spin schema > fem_spin.schema.json`)")
    common(sc)
    return p


def _split_petsc(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    argv = list(argv)
    if "--" in argv:
        k = argv.index("--")
        return argv[:k], argv[k + 1:]
    return argv, []


def cmd_run(args, comm, petsc: dict) -> int:
    from fem_spin.io.case import load_case
    from fem_spin.io.output import check_output_dir
    from fem_spin.io.model import as_case
    from fem_spin.app.preflight import preflight
    from fem_spin.app.runner import run_case

    def validate():
        case = as_case(load_case(args.case))
        out = args.output or Path(case.output.folder)
        check_output_dir(out, args.overwrite)
        preflight(case, report=False)  # run_case repeats it; here it comes before the output check's effects
        return case, out

    case, out = on_root(comm, validate)
    # The saved case must reproduce this run: record where it went and the PETSc options.
    case = case.replace("output", folder=str(out))
    case = case.replace("solver", petsc_options={**case.solver.petsc_options, **petsc})
    run_case(case, out, overwrite=args.overwrite, comm=comm)
    return 0


def cmd_mesh(args, comm, petsc: dict) -> int:
    from fem_spin.io.case import load_case
    from fem_spin.io.model import as_case
    from fem_spin.io.schema import DeviceSection
    from fem_spin.progress import logger, stage
    from fem_spin.app.build import build_domain
    from fem_spin.app.preflight import check_device_file, check_size

    def validate():
        case = as_case(load_case(args.case))
        out = args.output or args.case.with_suffix(".msh")
        if out.suffix not in (".msh", ".xdmf"):
            raise UsageError(f"--output {str(out)!r}: a mesh file must end in .msh (Gmsh, read "
                             "on rank 0) or .xdmf (XDMF/HDF5, read in parallel)")
        if out.exists() and not args.overwrite:
            raise UsageError(f"mesh file {str(out)!r} exists; pass --overwrite to replace it")
        check_size(case, meshes=True)  # `fem-spin mesh` meshes even when mesh_file is set
        if isinstance(case.geometry, DeviceSection):
            case = case.replace("geometry", dim=check_device_file(case))  # its dim is the file's
        return case, out

    case, out = on_root(comm, validate)
    if out.suffix == ".xdmf":  # meshed (Gmsh on rank 0), distributed, written by every rank
        import shutil
        import uuid

        from fem_spin.geometry.mesh import write_xdmf

        case = case.replace("geometry", mesh_file=None)  # mesh the case even if it names a mesh file
        with stage("mesh", comm):
            domain = build_domain(case, comm)
        tmpdir = Path(comm.bcast(str(out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"), root=0))
        if comm.rank == 0:
            tmpdir.mkdir(parents=True)
        comm.Barrier()
        try:
            with stage("write", comm):
                files = write_xdmf(domain, tmpdir / out.name)
            if comm.rank == 0:  # the three files move into place together
                for f in files:
                    f.replace(out.parent / f.name)
        finally:
            if comm.rank == 0:
                shutil.rmtree(tmpdir, ignore_errors=True)
        comm.Barrier()
        logger.info("mesh: %d cells; wrote %s (+ .h5, .names.json); set geometry.mesh_file = %r "
                    "in the case to read it in parallel", domain.num_cells(), out, str(out))
        return 0
    tmp = out.with_name(f".{out.name}.partial.msh")
    with stage("mesh", comm):
        build_domain(case, comm, msh_file=tmp)
    if comm.rank == 0:
        tmp.replace(out)
    logger.info("wrote %s; set geometry.mesh_file = %r in the case to reuse it", out, str(out))
    return 0


def cmd_sweep(args, comm, petsc: dict) -> int:
    from fem_spin.io.case import read_raw, resolve_case
    from fem_spin.io.output import check_output_dir
    from fem_spin.io.model import as_case
    from fem_spin.progress import logger
    from fem_spin.app.preflight import preflight
    from fem_spin.app.sweep import parse_params, run_sweep, sweep_cases

    def validate():
        # The case and the parameters first: their errors are the ones worth reporting.
        params = parse_params(args.param)
        raw = read_raw(args.case)
        case = as_case(resolve_case(raw, args.case.parent))
        cases = [(combo, as_case(c)) for combo, c in sweep_cases(raw, params, args.case.parent)]
        out = args.output or Path(case.output.folder)
        check_output_dir(out, args.overwrite)
        for _, case in cases:  # every run is checked before the first one starts
            preflight(case)
        return cases, out

    cases, out = on_root(comm, validate)
    logger.info("sweep: %d runs into %s", len(cases), out)
    rows = run_sweep(cases, out, args.overwrite, comm, petsc)
    if comm.rank == 0 and not args.quiet:
        cols = list(rows[0])
        print("  ".join(f"{c:>14}" for c in cols))
        for row in rows:
            print("  ".join(f"{row[c]:>14.6g}" if isinstance(row[c], float) else f"{row[c]!s:>14}"
                            for c in cols))
    return 0


def cmd_plot(args, comm, petsc: dict) -> int:
    from fem_spin.progress import logger
    from fem_spin.app.results import write_pictures
    from fem_spin.io.model import as_case

    def plot():
        if not (args.result / "profile.csv").is_file() or not (args.result / "case.toml").is_file():
            raise UsageError(f"{str(args.result)!r} is not a fem-spin result folder "
                             "(no profile.csv and case.toml)")
        from fem_spin.io.case import load_case

        return [str(p) for p in write_pictures(as_case(load_case(args.result / "case.toml")), args.result)]

    for path in on_root(comm, plot):
        logger.info("wrote %s", path)
    return 0


def cmd_info(args, comm, petsc: dict) -> int:
    from fem_spin.app.results import versions

    if comm.rank == 0:
        for key, value in versions().items():
            print(f"{key:9s} {value}")
    return 0


def cmd_schema(args, comm, petsc: dict) -> int:
    from fem_spin.io.schema_export import json_schema_text

    if comm.rank == 0:
        sys.stdout.write(json_schema_text())
    return 0


COMMANDS = {"run": cmd_run, "mesh": cmd_mesh, "sweep": cmd_sweep, "plot": cmd_plot, "info": cmd_info,
            "schema": cmd_schema}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (tests call it directly)."""
    from fem_spin import _backend  # noqa: F401 - DOLFINx and PETSc in the right order
    from fem_spin.progress import configure_logging
    from fem_spin.app.results import ResultError
    from fem_spin.solvers.linear import SolverError
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    ours, petsc_tokens = _split_petsc(sys.argv[1:] if argv is None else argv)

    def say(msg: str) -> None:
        if comm.rank == 0:
            print(f"fem-spin: error: {msg}", file=sys.stderr, flush=True)

    try:
        args = build_parser().parse_args(ours)
        petsc = parse_petsc_options(petsc_tokens)
    except UsageError as exc:
        say(str(exc))
        return EXIT_INPUT
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    mismatch = launcher_mismatch(comm)
    if mismatch is not None:  # every process is "rank 0": the launcher's rank 0 speaks
        if mismatch[1]:
            print(f"fem-spin: error: {mismatch[0]}", file=sys.stderr, flush=True)
        return EXIT_INPUT
    configure_logging(logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO)
    previous = on_sigterm(_raise_terminated)
    try:
        return COMMANDS[args.command](args, comm, petsc)
    except InputError as exc:  # decided on rank 0 and broadcast, or collectively: all ranks are here
        say(str(exc))
        return EXIT_INPUT
    except (SolverError, ResultError, SharedFailure) as exc:  # collective verdicts: all ranks are here
        say(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt as exc:
        what, code = (("terminated (SIGTERM)", EXIT_TERMINATED) if isinstance(exc, Terminated)
                      else ("interrupted", EXIT_INTERRUPTED))
        note = getattr(exc, "note", "")
        if note:  # a dynamic run stopped on every rank together, after its checkpoint
            if comm.rank == 0:
                print(f"fem-spin: {what}; {note}", file=sys.stderr, flush=True)
            return code
        print(f"fem-spin: {what} on rank {comm.rank}; no partial results left", file=sys.stderr,
              flush=True)
        if comm.size > 1:
            time.sleep(0.5)  # let mpirun forward the message first (see below)
            comm.Abort(code)
        return code
    except Exception as exc:  # noqa: BLE001 - possibly on one rank only: abort all
        where = f" on rank {comm.rank}" if comm.size > 1 else ""
        print(f"fem-spin: error{where}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        if args.verbose:
            traceback.print_exc()
        if comm.size > 1:
            # Give mpirun's output forwarding a moment: Abort kills the proxies, and a message
            # still in the pipe was lost once in a full CI run (not reproduced in 40 isolated runs).
            time.sleep(0.5)
            comm.Abort(EXIT_FAILED)
        return EXIT_FAILED
    finally:
        restore_sigterm(previous)


def _raise_terminated(signum, frame):  # noqa: ARG001
    """SIGTERM during a run: `Terminated`, handled like Ctrl-C."""
    raise Terminated()


if __name__ == "__main__":
    sys.exit(main())
