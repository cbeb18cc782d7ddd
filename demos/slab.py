# # The paper's CPP slab in 3D (Figs. 5-11 setting): theta = 90 degrees, L = 100 nm
#
# Two ferromagnetic layers along x meet at a zero-thickness spacer at x = 0 where
# |M| dips to zero over w = 0.6 nm (the paper's sharper "lda"). The magnetization is
# u_L = z on the left and u_R = y (rotated by theta = 90 degrees about the current
# direction x) on the right. The ends hold the equilibrium accumulation, m = -u_L
# and m = +u_R. Material: the paper's preset (l_sf = 100 nm, D = 1e-3 m^2/s,
# a0 = beta = 100), so the transverse accumulation oscillates with a 6.3 nm
# wavelength and decays over l_sf.
#
# Run: `make demo`, or `mpirun -n 2 python demos/slab.py [OUTPUT_DIR]`.
# It writes ParaView files (fields.pvd, binary VTK XML), profile.csv, profile.png and a
# 3D picture m_x.png, and compares the 3D line profile with the 1D solution.

# +
from pathlib import Path

import numpy as np

from fem_spin.app.demo import demo_output
from fem_spin.io.case import resolve_case
from fem_spin.progress import configure_logging, logger
from fem_spin.app.runner import run_case
from mpi4py import MPI

configure_logging()
output = demo_output(__file__, "results/slab")

case = {
    "geometry": {"kind": "slab", "dim": 3, "length_nm": 100.0, "width_nm": 2.0,
                 "h_interface_nm": 0.15, "h_far_nm": 0.6},
    "magnetization": {"profile": "interface", "theta_deg": 90.0, "width_nm": 0.6},
    "discretization": {"degree": 2},
    "output": {"profile_points": 2001},
}
# -

# The 3D device; the 1D slab (the paper's setting) is the reference: the sides
# carry no spin current, so the 3D solution must not vary across the section.

# +
result = run_case(resolve_case(case), output, overwrite=True)
reference = run_case(resolve_case({**case, "geometry": {**case["geometry"], "dim": 1}}), None)
if MPI.COMM_WORLD.rank == 0:
    diff = np.max(np.abs(result.profile - reference.profile))
    s = result.summary
    logger.info("3D: %d DOFs, %d cells; max |m_x| = %.4f, |m_y| = %.4f, |m_z| = %.4f",
                s["dofs"], s["cells"], *s["max_abs_m"].values())
    logger.info("max |m_3D - m_1D| along the axis: %.2e", diff)
    logger.info("timings [s]: %s", ", ".join(f"{k} {v:.2f}" for k, v in s["timings_s"].items()))
    logger.info("open %s/fields.pvd in ParaView; pictures: profile.png, m_x.png",
                output)
# -
