"""Pictures: line profiles (matplotlib, which PyVista ships with) and 3D views (PyVista).

Rank 0 only; both read files already written, so they work the same after a
parallel run and from `fem-spin plot` on a finished result folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .output import read_profile_csv


def plot_profile(csv_path: Path, png_path: Path, title: str = "") -> Path:
    """Plot every column of a profile CSV against its first column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    header, data = read_profile_csv(csv_path)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for j, name in enumerate(header[1:], start=1):
        ax.plot(data[:, 0], data[:, j], label=name.replace("_", " "))
    ax.set_xlabel(header[0].replace("_nm", " [nm]").replace("_", " "))
    ax.set_ylabel("spin accumulation (normalised)")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


def render_field(vtk_file: Path, png_path: Path, field: str = "m", component: int = 0) -> Path | None:
    """Off-screen PyVista picture of one component of a field from a .pvd file."""
    try:
        import pyvista as pv
    except ImportError:  # pragma: no cover - optional
        return None
    pv.OFF_SCREEN = True
    try:  # no display on clusters: keep VTK's "bad X server" chatter off stderr
        import vtk

        vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_OFF)
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    reader = pv.get_reader(str(vtk_file))
    grid = reader.read()
    if isinstance(grid, pv.MultiBlock):
        grid = grid.combine()
    if field not in grid.point_data:
        return None
    data = np.asarray(grid.point_data[field])
    scalars = data[:, component] if data.ndim == 2 else data
    grid.point_data[f"{field}_{'xyz'[component]}"] = scalars
    plotter = pv.Plotter(off_screen=True, window_size=(1200, 500))
    plotter.add_mesh(grid, scalars=f"{field}_{'xyz'[component]}", cmap="coolwarm",
                     show_edges=False)
    plotter.show_axes()
    if grid.bounds[5] - grid.bounds[4] > 0:
        plotter.view_isometric()
    else:
        plotter.view_xy()
    plotter.screenshot(str(png_path))
    plotter.close()
    return png_path
