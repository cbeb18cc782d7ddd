"""The `fem-spin` command: run, mesh, sweep, plot and info.

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__

EXIT_INPUT, EXIT_FAILED = 2, 1


class UsageError(ValueError):
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

    s = sub.add_parser("sweep", help="run a case for several values of one key")
    s.add_argument("case", type=Path)
    s.add_argument("--param", required=True, metavar="SECTION.KEY=V1,V2,...",
                   help="e.g. magnetization.theta_deg=0,45,90")
    s.add_argument("-o", "--output", type=Path, help="sweep folder (default: output.folder)")
    s.add_argument("--overwrite", action="store_true")
    common(s)

    pl = sub.add_parser("plot", help="PNG pictures from a finished result folder")
    pl.add_argument("result", type=Path)
    common(pl)

    i = sub.add_parser("info", help="versions of fem_spin, DOLFINx, PETSc, MPI and the rank count")
    common(i)
    return p


def _split_petsc(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    argv = list(argv)
    if "--" in argv:
        k = argv.index("--")
        return argv[:k], argv[k + 1:]
    return argv, []


def _on_root(comm, fn: Callable[[], Any]) -> Any:
    """Run fn on rank 0, broadcast its result or its input error to every rank."""
    from .case import CaseError
    from .output import OutputError

    out: tuple[str, Any] = ("ok", None)
    if comm.rank == 0:
        try:
            out = ("ok", fn())
        except (CaseError, OutputError, UsageError, FileNotFoundError) as exc:
            out = ("input", str(exc))
    kind, value = comm.bcast(out, root=0)
    if kind == "input":
        raise UsageError(value)
    return value


def cmd_run(args, comm, petsc: dict) -> int:
    from .case import load_case
    from .output import check_output_dir
    from .runner import check_resolution, check_size, material_from, run_case

    def validate():
        case = load_case(args.case)
        out = args.output or Path(case["output"]["folder"])
        check_output_dir(out, args.overwrite)
        check_resolution(case, material_from(case))
        check_size(case)
        return case, out

    case, out = _on_root(comm, validate)
    # The saved case must reproduce this run: record where it went and the PETSc options.
    case["output"]["folder"] = str(out)
    case["solver"]["petsc_options"].update(petsc)
    run_case(case, out, overwrite=args.overwrite, comm=comm)
    return 0


def cmd_mesh(args, comm, petsc: dict) -> int:
    from .case import load_case
    from .progress import logger, stage
    from .runner import build_domain, check_size

    def validate():
        case = load_case(args.case)
        out = args.output or args.case.with_suffix(".msh")
        if out.suffix != ".msh":
            raise UsageError(f"--output {str(out)!r}: a Gmsh mesh file must end in .msh")
        if out.exists() and not args.overwrite:
            raise UsageError(f"mesh file {str(out)!r} exists; pass --overwrite to replace it")
        check_size(case, meshes=True)  # `fem-spin mesh` meshes even when mesh_file is set
        return case, out

    case, out = _on_root(comm, validate)
    tmp = out.with_name(f".{out.name}.partial.msh")
    with stage("mesh", comm):
        build_domain(case, comm, msh_file=tmp)
    if comm.rank == 0:
        tmp.replace(out)
    logger.info("wrote %s; set geometry.mesh_file = %r in the case to reuse it", out, str(out))
    return 0


def cmd_sweep(args, comm, petsc: dict) -> int:
    from .case import read_raw, resolve_case
    from .output import check_output_dir
    from .runner import check_resolution, check_size, material_from
    from .sweep import parse_values, run_sweep, sweep_cases

    def validate():
        if "=" not in args.param:
            raise UsageError(f"--param {args.param!r}: write SECTION.KEY=V1,V2,...")
        key, text = args.param.split("=", 1)
        raw = read_raw(args.case)
        case = resolve_case(raw, args.case.parent)
        out = args.output or Path(case["output"]["folder"])
        check_output_dir(out, args.overwrite)
        cases = sweep_cases(raw, key.strip(), parse_values(text), args.case.parent)
        for _, case in cases:  # every run's mesh is checked before the first one starts
            check_resolution(case, material_from(case))
            check_size(case)
        return cases, key.strip(), out

    cases, key, out = _on_root(comm, validate)
    rows = run_sweep(cases, key, out, args.overwrite, comm, petsc)
    if comm.rank == 0 and not args.quiet:
        cols = list(rows[0])
        print("  ".join(f"{c:>14}" for c in cols))
        for row in rows:
            print("  ".join(f"{row[c]:>14.6g}" if isinstance(row[c], float) else f"{row[c]!s:>14}"
                            for c in cols))
    return 0


def cmd_plot(args, comm, petsc: dict) -> int:
    from .plotting import plot_profile, render_field
    from .progress import logger

    def plot():
        csv_file = args.result / "profile.csv"
        if not csv_file.is_file():
            raise UsageError(f"{str(args.result)!r} is not a fem-spin result folder (no profile.csv)")
        made = [plot_profile(csv_file, args.result / "profile.png", title=args.result.name)]
        if (args.result / "fields.pvd").is_file():
            pic = render_field(args.result / "fields.pvd", args.result / "m_x.png", "m", 0)
            made += [pic] if pic else []
        return [str(p) for p in made]

    for path in _on_root(comm, plot):
        logger.info("wrote %s", path)
    return 0


def cmd_info(args, comm, petsc: dict) -> int:
    from .runner import versions

    if comm.rank == 0:
        for key, value in versions().items():
            print(f"{key:9s} {value}")
    return 0


COMMANDS = {"run": cmd_run, "mesh": cmd_mesh, "sweep": cmd_sweep, "plot": cmd_plot, "info": cmd_info}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (tests call it directly)."""
    from . import _backend  # noqa: F401 - DOLFINx and PETSc in the right order
    from .progress import configure_logging
    from .solvers import SolverError
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
    configure_logging(logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO)
    try:
        return COMMANDS[args.command](args, comm, petsc)
    except UsageError as exc:  # decided on rank 0 and broadcast: all ranks are here
        say(str(exc))
        return EXIT_INPUT
    except SolverError as exc:  # the KSP's reason is collective: all ranks are here
        say(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"fem-spin: interrupted on rank {comm.rank}", file=sys.stderr, flush=True)
        if comm.size > 1:
            time.sleep(0.5)  # let mpirun forward the message first (see below)
            comm.Abort(130)
        return 130
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


if __name__ == "__main__":
    sys.exit(main())
