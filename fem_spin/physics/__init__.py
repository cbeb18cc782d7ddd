"""The equations: materials, magnetization sources, cell-wise coefficients, the variational
form, the spin problem, time stepping, the LLG dynamics and the charge current."""
