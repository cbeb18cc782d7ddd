"""Pictures of fields read from the VTK files with PyVista: planar maps (matplotlib) of a cut
or of a thin device's mid-plane, 3D views of bulky devices, and where a line crosses the
regions. Rank 0 only; without PyVista each returns None.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fem_spin.io.plotting import AXES, _pyplot, axis_label, split_unit, symbol

_LAST: dict = {}  # the last grid read


def _read_grid(vtk_file: Path, field: str | None):
    """PyVista (off-screen, quiet) and the combined grid of a .pvd file; None without PyVista
    or without the point field (any grid for field None)."""
    try:
        import pyvista as pv
    except ImportError:  # pragma: no cover - optional
        return None

    pv.OFF_SCREEN = True
    try:  # no display on clusters: keep VTK's "bad X server" chatter off stderr
        from vtkmodules.vtkCommonCore import vtkLogger  # not `import vtk`: 2 s of imports

        vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    key = (str(Path(vtk_file).resolve()), Path(vtk_file).stat().st_mtime_ns)
    if _LAST.get("key") != key:  # the pictures of one folder read the same file: once
        grid = pv.get_reader(str(vtk_file)).read()
        _LAST.update(key=key, grid=grid.combine() if isinstance(grid, pv.MultiBlock) else grid)
    grid = _LAST["grid"]
    return (pv, grid) if field is None or field in grid.point_data else None


def default_line(bounds) -> tuple[np.ndarray, np.ndarray]:
    """The profile line a device gets without output.line_*: its longest bounding-box axis
    through the centre (fem_spin.app.results.profile_line)."""
    lo, hi = np.asarray(bounds[0::2], float), np.asarray(bounds[1::2], float)
    axis = int(np.argmax(hi - lo))
    start, end = (lo + hi) / 2, (lo + hi) / 2
    start[axis], end[axis] = lo[axis], hi[axis]
    return start, end


def line_regions(vtk_file: Path, start=None, end=None, names: dict[int, str] | None = None,
                 n: int = 801) -> list[tuple[float, float, str]]:
    """The regions a straight line crosses, from the 'region' cell data of a .pvd file:
    [(s_start, s_end, name)] with s the distance from `start` in nm; [] when unknown."""
    found = _read_grid(vtk_file, None)
    if found is None:
        return []
    _, grid = found
    if "region" not in grid.cell_data:
        return []
    if start is None or end is None:
        start, end = default_line(grid.bounds)
    start, end = np.asarray(start, float), np.asarray(end, float)
    length = float(np.linalg.norm(end - start))
    if length == 0:
        return []
    t = np.linspace(0.0, 1.0, n)
    # nudge the ends inside: a point exactly on the outer boundary may find no cell
    pts = start + np.clip(t, 1e-6, 1 - 1e-6)[:, None] * (end - start)
    cells = np.atleast_1d(grid.find_containing_cell(pts))
    tags = np.asarray(grid.cell_data["region"])
    ok = cells >= 0
    if not ok.any():
        return []
    t, tag = t[ok], tags[cells[ok]].astype(int)
    change = np.flatnonzero(np.diff(tag)) + 1
    lo, hi = t[change - 1].copy(), t[change].copy()
    for _ in range(30):  # each crossing to ~1e-9 of the line by bisection (all at once)
        mid = (lo + hi) / 2
        c = np.atleast_1d(grid.find_containing_cell(start + mid[:, None] * (end - start)))
        left = (c >= 0) & (tags[np.maximum(c, 0)].astype(int) == tag[change - 1])
        lo, hi = np.where(left, mid, lo), np.where(left, hi, mid)
    edges = np.r_[t[0], (lo + hi) / 2, t[-1]] * length
    edges[0], edges[-1] = (0.0 if t[0] < 1e-3 else edges[0]), (length if t[-1] > 1 - 1e-3 else edges[-1])
    names = names or {}
    first = np.r_[0, change]
    return [(float(edges[k]), float(edges[k + 1]), names.get(int(tag[i]), f"region {tag[i]}"))
            for k, i in enumerate(first)]


# ------------------------------------------------------------------------------ planar maps


def _plane_axes(normal: int) -> tuple[int, int]:
    return {0: (1, 2), 1: (0, 2), 2: (0, 1)}[normal]


def _triangles(poly):
    """Linear triangles of a PyVista surface: (points, (n, 3) ids, cell index of each)."""
    poly = poly.triangulate()
    faces = np.asarray(poly.regular_faces).reshape(-1, 3)
    good = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    return poly, faces[good], np.flatnonzero(good)


def _outline_segments(xy: np.ndarray, tris: np.ndarray, region: np.ndarray | None):
    """The outer boundary and, with `region`, the interfaces between regions: (k, 2, 2) arrays."""
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(tris)), 3)
    uniq, inverse, counts = np.unique(edges, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    outer = uniq[counts == 1]
    inner = np.empty((0, 2), int)
    if region is not None:
        order = np.argsort(inverse, kind="stable")
        shared = counts[inverse[order]] == 2
        pairs = order[shared].reshape(-1, 2)  # both triangles of each interior edge
        differs = region[owner[pairs[:, 0]]] != region[owner[pairs[:, 1]]]
        inner = edges[pairs[differs, 0]]
    return xy[outer], xy[inner]


def _nice(length: float) -> float:
    """A round scale-bar length near a fifth of `length`."""
    target = max(length / 5, 1e-12)
    p = 10 ** np.floor(np.log10(target))
    return float(max(f * p for f in (1, 2, 5) if f * p <= target * 1.5))


def _scale_bar(ax, width: float, fontsize: float = 9):
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    size = _nice(width)
    bar = AnchoredSizeBar(ax.transData, size, f"{size:g} nm", loc="upper left",
                          bbox_to_anchor=(0.0, -0.01), bbox_transform=ax.transAxes,
                          frameon=False, size_vertical=0, sep=3, pad=0.1, borderpad=0.1,
                          fontproperties=FontProperties(size=fontsize))
    bar.size_bar.get_children()[0].set_linewidth(3)
    ax.add_artist(bar)


def _colorbar(fig, mappable, ax, label: str, orientation="vertical"):
    cbar = fig.colorbar(mappable, ax=ax, shrink=0.85, pad=0.02, orientation=orientation,
                        fraction=0.05)
    cbar.formatter.set_powerlimits((-2, 3))
    cbar.formatter.set_useMathText(True)
    cbar.update_ticks()
    cbar.set_label(label)
    return cbar


def _map(ax, tri, values, cmap="RdBu_r"):
    """Colour map of nodal values on a triangulation, symmetric about 0 (white) when they
    change sign or the colour scale would hide it."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    a = max(abs(lo), abs(hi)) or 1.0
    return ax.tripcolor(tri, np.nan_to_num(values), shading="gouraud", cmap=cmap,
                        vmin=-a, vmax=a, rasterized=True)


def _arrow_grid(xy: np.ndarray, n_long: int = 16):
    """A regular grid of arrow positions over the bounding box of the plane's points."""
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    step = max(x1 - x0, y1 - y0) / n_long
    X, Y = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
    return X.ravel(), Y.ravel(), step


def _quiver(ax, X, Y, U, V, step: float):
    """Arrows of the in-plane vector (U, V) at (X, Y), the longest `step` long."""
    peak = float(np.max(np.hypot(U, V))) if len(U) else 0.0
    if peak == 0:
        return None
    return ax.quiver(X, Y, U, V, angles="xy", scale_units="xy", scale=peak / (0.85 * step),
                     width=0.004, headwidth=3.5, color="0.1", pivot="middle", zorder=3)


def _plane_number(value: float, size: float) -> str:
    return f"{0.0 if abs(value) < 1e-6 * size else value:.3g}"


def render_slice(vtk_file: Path, png_path: Path, field: str = "m", normal: str = "y",
                 names: dict[int, str] | None = None, title: str = "") -> Path | None:
    """A vector field on the plane through the mesh's centre normal to `normal` (3D): one panel
    per component, each on its own symmetric colour scale (so a transverse component of 0.5 %
    of the main one shows), the in-plane vector as arrows on the dominant component, the
    outline and region interfaces (the 'region' cell data; `names` tag -> name), a scale bar."""
    found = _read_grid(vtk_file, field)
    if found is None:
        return None
    pv, grid = found
    plt = _pyplot()
    k = AXES.index(normal)
    a, b = _plane_axes(k)
    centre = np.asarray(grid.center, float)
    size = float(np.max(np.asarray(grid.bounds[1::2]) - np.asarray(grid.bounds[0::2])))
    origin = centre.copy()  # just off the centre: a plane through mesh nodes and faces
    origin[k] += 1e-4 * size  # gives slivers and duplicate edges
    cut, tris, cells = _triangles(grid.slice(normal=normal, origin=origin))
    if not len(tris):
        return None
    from matplotlib.collections import LineCollection
    from matplotlib.tri import Triangulation

    xy = np.asarray(cut.points)[:, [a, b]]
    tri = Triangulation(xy[:, 0], xy[:, 1], tris)
    data = np.asarray(cut.point_data[field], float).reshape(cut.n_points, -1)
    region = np.asarray(cut.cell_data["region"])[cells].astype(int) if "region" in cut.cell_data \
        else None
    outer, inner = _outline_segments(xy, tris, region)
    base, unit = split_unit(field)
    ncomp = data.shape[1]
    dominant = int(np.argmax(np.max(np.abs(data), axis=0)))
    if ncomp == 3:  # the in-plane vector on a regular grid, probed in the 3D mesh (fast)
        X, Y, step = _arrow_grid(xy)
        pts = np.tile(origin, (len(X), 1))
        pts[:, a], pts[:, b] = X, Y
        probe = pv.PolyData(pts).sample(grid)
        inside = np.asarray(probe.point_data["vtkValidPointMask"]).astype(bool)
        vec = np.asarray(probe.point_data[field])[inside]
        X, Y, U, V = X[inside], Y[inside], vec[:, a], vec[:, b]
    peaks = np.max(np.abs(data), axis=0)
    shown = [c for c in range(ncomp) if peaks[c] > 1e-12 * peaks.max()] or [dominant]
    zero = [symbol(base, AXES[c]) for c in range(ncomp) if c not in shown and ncomp == 3]
    width, height = np.ptp(xy[:, 0]), np.ptp(xy[:, 1])
    wide = width > 2.5 * height  # a thin plane: panels one above the other
    rows, cols = (len(shown), 1) if wide else (1, len(shown))
    panel_w = 4.3 if not wide else 9.0
    panel_h = max(1.2, min(4.5, panel_w * height / max(width, 1e-300))) + 0.6
    fig, axes = plt.subplots(rows, cols, figsize=(panel_w * cols + 0.8, panel_h * rows + 0.5),
                             dpi=150, squeeze=False)
    for c, ax in zip(shown, axes.ravel()):
        comp = AXES[c] if ncomp == 3 else ""
        mappable = _map(ax, tri, data[:, c])
        ax.add_collection(LineCollection(outer, colors="k", linewidths=1.2, zorder=4))
        ax.add_collection(LineCollection(inner, colors="k", linewidths=0.9, linestyles="--",
                                         zorder=4))
        if c == dominant and ncomp == 3:
            _quiver(ax, X, Y, U, V, step)
        ax.set_aspect("equal")
        ax.set_axis_off()
        arrows = f" (arrows: {symbol(base, AXES[a])}, {symbol(base, AXES[b])})"
        ax.set_title(symbol(base, comp) + (arrows if c == dominant and ncomp == 3 else ""),
                     fontsize=11)
        _colorbar(fig, mappable, ax, axis_label(symbol(base, comp), unit))
        if c == shown[0]:
            _scale_bar(ax, width)
            if region is not None:
                _region_names(ax, tri, tris, region, names or {})
    fig.suptitle(f"{title or symbol(base)} on the plane {normal} = "
                 f"{_plane_number(centre[k], size)} nm" + (f"  ({' = '.join(zero)} = 0)" if zero else ""),
                 fontsize=12)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


def _region_names(ax, tri, tris, region, names: dict[int, str]) -> None:
    """Each region's name at the area-weighted centre of its part of the plane."""
    x, y = tri.x[tris], tri.y[tris]
    area = 0.5 * np.abs((x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0]))
    cx, cy = x.mean(axis=1), y.mean(axis=1)
    if len(np.unique(region)) < 2 and not names:
        return
    for tag in np.unique(region):
        sel = region == tag
        w = area[sel].sum()
        if w <= 0:
            continue
        ax.text((cx[sel] * area[sel]).sum() / w, (cy[sel] * area[sel]).sum() / w,
                names.get(int(tag), f"region {tag}"), ha="center", va="center", fontsize=9,
                zorder=5, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                                "alpha": 0.75})


def render_field(vtk_file: Path, png_path: Path, field: str = "m", component: int = 0,
                 title: str = "", thin: float = 4.0) -> Path | None:
    """One component of a field from a .pvd file: a matplotlib map of a 2D mesh, or of the
    mid-plane of a 3D mesh longer than `thin` times its thickness (one axis stretched so it
    fills the figure, and said so); a PyVista view of a bulky 3D mesh."""
    found = _read_grid(vtk_file, field)
    if found is None:
        return None
    pv, grid = found
    base, unit = split_unit(field)
    data = np.asarray(grid.point_data[field])
    comp = AXES[component] if data.ndim == 2 else ""
    label = axis_label(symbol(base, comp), unit)
    ext = np.asarray(grid.bounds[1::2]) - np.asarray(grid.bounds[0::2])
    order = np.argsort(ext)[::-1]  # longest first
    flat = ext[order[2]] <= 1e-9 * ext[order[0]]
    if flat or ext[order[0]] > thin * ext[order[2]]:
        return _render_plane(grid, png_path, field, component, int(order[2]), flat, label,
                             title)
    scalars = data[:, component] if data.ndim == 2 else data
    name = re.sub(r"\$|\{|\}", "", label)
    grid.point_data[name] = scalars
    plotter = pv.Plotter(off_screen=True, window_size=(1200, 800))
    a = float(np.max(np.abs(scalars))) or 1.0
    plotter.add_mesh(grid, scalars=name, cmap="RdBu_r", clim=(-a, a), show_edges=False,
                     scalar_bar_args={"title": name, "vertical": True, "position_x": 0.85,
                                      "position_y": 0.15, "height": 0.7, "fmt": "%.3g"})
    plotter.add_text(re.sub(r"\$|\{|\}", "", title) if title else name, font_size=12)
    plotter.show_axes()
    plotter.view_isometric()
    plotter.show_bounds(grid="back", location="outer", xtitle="x [nm]", ytitle="y [nm]",
                        ztitle="z [nm]", font_size=10, fmt="%.0f")
    plotter.screenshot(str(png_path))
    plotter.close()
    return png_path


def _render_plane(grid, png_path: Path, field: str, component: int, normal: int, flat: bool,
                  label: str, title: str) -> Path:
    """One component on a 2D mesh or a 3D mesh's mid-plane normal to axis `normal`."""
    from matplotlib.tri import Triangulation

    plt = _pyplot()
    origin = np.asarray(grid.center, float)
    origin[normal] += 1e-3 * (grid.bounds[2 * normal + 1] - grid.bounds[2 * normal])  # off nodes
    surf = grid.extract_surface(nonlinear_subdivision=0, algorithm="dataset_surface") if flat \
        else grid.slice(normal=[1.0 if i == normal else 0.0 for i in range(3)], origin=origin)
    surf, tris, cells = _triangles(surf)
    region = np.asarray(surf.cell_data["region"])[cells].astype(int) \
        if "region" in surf.cell_data else None
    a, b = _plane_axes(normal)
    xy = np.asarray(surf.points)[:, [a, b]]
    values = np.asarray(surf.point_data[field], float)
    values = values[:, component] if values.ndim == 2 else values
    tri = Triangulation(xy[:, 0], xy[:, 1], tris)
    width, height = np.ptp(xy[:, 0]), np.ptp(xy[:, 1])
    swap = height > width
    if swap:  # the long side along the figure's width
        tri = Triangulation(xy[:, 1], xy[:, 0], tris)
        a, b, width, height = b, a, height, width
    stretch = max(1.0, width / (4.0 * max(height, 1e-300)))  # shown at most 4:1
    shown = width / (height * stretch)
    fig_w = 9.5
    fig_h = float(np.clip((fig_w - 2.2) / shown + 1.4, 2.8, 7.5))
    fig, ax = plt.subplots(figsize=(fig_w, fig_h), dpi=150)
    mappable = _map(ax, tri, values)
    from matplotlib.collections import LineCollection

    outer, inner = _outline_segments(np.column_stack([tri.x, tri.y]), tris, region)
    ax.add_collection(LineCollection(outer, colors="k", linewidths=1.0))
    ax.add_collection(LineCollection(inner, colors="k", linewidths=0.8, linestyles="--"))
    ax.set_xlim(tri.x.min(), tri.x.max())
    ax.set_ylim(tri.y.min(), tri.y.max())
    ax.set_aspect(stretch)
    ax.set_xlabel(f"{AXES[a]} [nm]")
    ax.set_ylabel(f"{AXES[b]} [nm]" + (f"  (stretched ×{stretch:.0f})" if stretch >= 1.5 else ""))
    _colorbar(fig, mappable, ax, label)
    size = float(np.max(np.asarray(grid.bounds[1::2]) - np.asarray(grid.bounds[0::2])))
    where = "" if flat else \
        f" on the mid-plane {AXES[normal]} = {_plane_number(grid.center[normal], size)} nm"
    ax.set_title((title or label) + where, fontsize=11)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return png_path
