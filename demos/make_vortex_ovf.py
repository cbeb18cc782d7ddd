# # A vortex state for the spin-valve demo's free layer, written as an OVF 2.0 file
#
# A 40 nm x 40 nm x 10 nm grid of 2 nm cells (meshunit m, as mumax3 and OOMMF write it):
# in-plane circulation u = (-y, x)/r around a core of radius 5 nm where u turns out of the
# plane (+z), and zero vectors outside the disk of radius 22 nm (no magnet there, as OOMMF
# writes for a disk). `demos/spin_valve.toml` reads it onto the free layer.
# Run: `python demos/make_vortex_ovf.py [OUT]` (default demos/data/free_layer_vortex.ovf).

# +
from pathlib import Path

import numpy as np

from fem_spin.app.demo import demo_output
from fem_spin.io.ovf import OVFField, write_ovf

n, nz, cell, radius, core = 20, 5, 2e-9, 20e-9, 5e-9
x = (np.arange(n) + 0.5) * cell - radius  # cell centres, the disk centred at 0
X, Y = np.meshgrid(x, x, indexing="xy")  # (ny, nx): x varies fastest
r = np.hypot(X, Y)
mz = np.exp(-(r / core) ** 2)
inplane = np.sqrt(1 - mz**2) / np.maximum(r, 1e-30)
u = np.stack([-Y * inplane, X * inplane, mz], axis=-1)
u[r > radius + cell] = 0.0  # keep the cells the pillar's rim cuts through
values = np.repeat(u[None], nz, axis=0)  # (nz, ny, nx, 3)
field = OVFField(values, base=(-radius + cell / 2, -radius + cell / 2, cell / 2), step=(cell,) * 3,
                 meshunit="m", title="vortex (fem_spin demos/make_vortex_ovf.py)")
out = demo_output(__file__, "demos/data/free_layer_vortex.ovf")
write_ovf(out, field, data="text")
print(f"wrote {out}: {n} x {n} x {nz} cells of {cell * 1e9:g} nm")
# -
