"""Material parameters in physical units and their scaling to nanometres.

The solver works in nm and in units of tau_sf: multiplying the steady equation
by tau_sf gives

    -div(l_sf^2 A^-1 grad m) + (m - m_eq) - beta mu u x m = 0,

with l_sf = sqrt(D tau_sf) in nm, A = I - [a0 mu u]x and beta = omega0 tau_sf (the signs of a
ferromagnetic sd exchange, MODEL.md).
SI lengths would make the matrix badly scaled (entries ~1e-14 next to 1).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from fem_spin._checks import require_positive

HBAR_EV_S = 6.582119569e-16  # reduced Planck constant in eV s


@dataclass(frozen=True, kw_only=True)
class Material:
    """Spin-transport parameters of the ferromagnet.

    Attributes:
        D: diffusion constant along the magnetization [m^2/s].
        tau_sf: spin-flip relaxation time [s].
        a0: tensor parameter a = tau lambda M0 at full magnetization [-]
            (the paper's D_yx/D_xx).
        omega0: precession frequency lambda M0 at full magnetization [1/s].
    """

    D: float = 1e-3
    tau_sf: float = 1e-11
    a0: float = 100.0
    omega0: float = 1e13

    def __post_init__(self) -> None:
        require_positive(self, "material", ("D", "tau_sf"), what="a positive number")
        for key in ("a0", "omega0"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"material.{key} must be a finite number, got {value!r}")

    @classmethod
    def paper(cls) -> Material:
        """Sec. VI of the paper: l_sf = 100 nm, D = 1e-3 m^2/s, a0 = beta = 100."""
        return cls(D=1e-3, tau_sf=1e-11, a0=100.0, omega0=1e13)

    @staticmethod
    def omega_from_exchange(energy_ev: float) -> float:
        """Precession frequency [1/s] of an exchange splitting given in eV."""
        return energy_ev / HBAR_EV_S

    @property
    def l_sf_nm(self) -> float:
        """Spin-diffusion length sqrt(D tau_sf) in nm."""
        return math.sqrt(self.D * self.tau_sf) * 1e9

    @property
    def beta(self) -> float:
        """Dimensionless precession omega0 tau_sf."""
        return self.omega0 * self.tau_sf

    @property
    def transverse_k(self) -> complex:
        """Complex decay constant k [1/nm] of psi = m_x + i m_y for u = z (MODEL.md C2:
        k^2 = (1 - i a0)(1 - i beta)/l_sf^2 with the ferromagnetic sd exchange)."""
        import cmath

        return cmath.sqrt((1 - 1j * self.a0) * (1 - 1j * self.beta)) / self.l_sf_nm

    @property
    def shortest_length_nm(self) -> float:
        """Shortest length the mesh must resolve: min(l_sf, 1/|k|) [nm]."""
        return min(self.l_sf_nm, 1.0 / abs(self.transverse_k))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
