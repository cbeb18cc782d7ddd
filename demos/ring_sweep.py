# # The square ring / torus (Figs. 12-15): side L = 10, 100, 1000 nm
#
# 2D square annulus (width 1 nm), magnetization of Fig. 12 (turning 90 degrees per side,
# dipping at the corners), m_eq = M/M0, paper preset. Components along the loop in the
# local frame (tangent, outward normal, z). Run: `python demos/ring_sweep.py [OUT]`.

# +
import json
from pathlib import Path

from mpi4py import MPI

from fem_spin.app.demo import demo_parser
from fem_spin.app.paper import peaks, plot_figure, ring_case, sweep
from fem_spin.progress import configure_logging, logger

configure_logging()
cli = demo_parser(__file__, "results/paper")
cli.add_argument("sides", nargs="?", default="10,100,1000",
                 help="the ring's side lengths [nm], comma-separated (default: %(default)s)")
args = cli.parse_args()
out = args.out
comm = MPI.COMM_WORLD
key = "geometry.length_nm"
sides = [float(a) for a in args.sides.split(",")]
findings = {}
for L in sides:  # one sweep per side: each figure has its own arc-length axis
    folder = out / f"fig13-15_ring_L{L:g}"
    sweep(ring_case(), key, [L], folder, comm)
    if comm.rank == 0:
        fig = {10.0: 13, 100.0: 14, 1000.0: 15}.get(L, 0)
        plot_figure(folder, key, [L], [0, 1, 2], out / f"fig{fig}_ring_L{L:g}.png",
                    f"Fig. {fig}: ring with side L = {L:g} nm (local frame)", " nm", ring_side=L)
        findings[L] = peaks(folder, key, [L], ring=True)[L]
if comm.rank == 0:
    (out / "ring_findings.json").write_text(json.dumps(findings, indent=2) + "\n")
    for L, row in findings.items():
        logger.info("L = %6g nm: %s", L, "  ".join(f"{k}={x:.4f}" for k, x in row.items()))
# -
