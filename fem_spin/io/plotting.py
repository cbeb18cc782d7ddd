"""Pictures: line profiles (matplotlib, which PyVista ships with) and 3D views (PyVista).

Rank 0 only; both read files already written, so they work the same after a
parallel run and from `fem-spin plot` on a finished result folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fem_spin.io.output import read_profile_csv


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
    ax.set_ylabel("spin accumulation [A/m]" if header[1].endswith("A_per_m") else
                  "spin accumulation (normalised)")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


def _read_grid(vtk_file: Path, field: str):
    """PyVista (off-screen, quiet) and the combined grid of a .pvd file; None without PyVista
    or without the point field."""
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
    grid = pv.get_reader(str(vtk_file)).read()
    if isinstance(grid, pv.MultiBlock):
        grid = grid.combine()
    return (pv, grid) if field in grid.point_data else None


def render_slice(vtk_file: Path, png_path: Path, field: str = "m", normal: str = "y") -> Path | None:
    """|field| and its arrows on the plane through the mesh's centre normal to `normal` (3D)."""
    found = _read_grid(vtk_file, field)
    if found is None:
        return None
    pv, grid = found
    cut = grid.slice(normal=normal, origin=grid.center)
    data = np.asarray(cut.point_data[field])
    cut.point_data[f"|{field}|"] = np.linalg.norm(data, axis=1)
    plotter = pv.Plotter(off_screen=True, window_size=(1000, 800))
    plotter.add_mesh(cut, scalars=f"|{field}|", cmap="viridis")
    step = max(1, cut.n_points // 400)
    arrows = pv.PolyData(np.asarray(cut.points)[::step])
    arrows.point_data[field] = data[::step]
    scale = 0.04 * max(grid.bounds[1] - grid.bounds[0], grid.bounds[5] - grid.bounds[4]) / \
        max(float(np.max(np.linalg.norm(data, axis=1))), 1e-300)
    plotter.add_mesh(arrows.glyph(orient=field, scale=field, factor=scale), color="white")
    plotter.add_text(f"{field} on the cut {normal} = {grid.center['xyz'.index(normal)]:.3g} nm",
                     font_size=10)
    plotter.show_axes()
    plotter.view_vector([1.0 if normal == c else 0.0 for c in "xyz"])
    plotter.screenshot(str(png_path))
    plotter.close()
    return png_path


def render_field(vtk_file: Path, png_path: Path, field: str = "m", component: int = 0) -> Path | None:
    """Off-screen PyVista picture of one component of a field from a .pvd file."""
    found = _read_grid(vtk_file, field)
    if found is None:
        return None
    pv, grid = found
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
