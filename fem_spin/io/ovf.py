"""OVF files (OOMMF/mumax3 vector fields): read, write, and interpolate onto a mesh.

No maintained reader on PyPI covers OVF 1.0 and 2.0, text and binary, without pulling in a
micromagnetics stack (discretisedfield needs ubermag's), so this is a small one. The format
(OOMMF user guide, "OVF file format"):

- a `#`-commented header (`# key: value`), then `# Begin: Data Text|Binary 4|Binary 8`;
- values are cell-centred on a rectangular grid; x varies fastest, then y, then z; the first
  cell centre is (xbase, ybase, zbase), or xmin + xstepsize/2 when no base is given;
- binary data begins with a check value, 1234567.0 (4 bytes) or 123456789012345.0 (8 bytes),
  little-endian in OVF 2.0 and big-endian in OVF 1.0;
- meshunit is usually m; OOMMF writes M in A/m, mumax3 writes normalised m; zero vectors mark
  cells without magnetic material.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fem_spin.io.case import InputError

UNIT_NM = {"m": 1e9, "cm": 1e7, "mm": 1e6, "um": 1e3, "nm": 1.0}
CHECK = {4: 1234567.0, 8: 123456789012345.0}


class OVFError(InputError):
    """A malformed, truncated or unsupported OVF file (the message names the file)."""


@dataclass
class OVFField:
    """A cell-centred vector field on a rectangular grid.

    Attributes:
        values: (nz, ny, nx, dim) array (x fastest in the file).
        base: centre of the first cell, in meshunit.
        step: cell size (dx, dy, dz), in meshunit.
        meshunit: length unit of base and step ("m" for OOMMF and mumax3).
        title, valueunits: from the header.
    """

    values: np.ndarray
    base: tuple[float, float, float]
    step: tuple[float, float, float]
    meshunit: str = "m"
    title: str = ""
    valueunits: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        """(nx, ny, nz)."""
        nz, ny, nx = self.values.shape[:3]
        return nx, ny, nz

    @property
    def unit_nm(self) -> float:
        """Length of one meshunit in nm."""
        return UNIT_NM[self.meshunit]

    def centres(self) -> np.ndarray:
        """Cell centres (nz, ny, nx, 3) in meshunit."""
        nx, ny, nz = self.shape
        axes = [self.base[i] + self.step[i] * np.arange(n) for i, n in enumerate((nx, ny, nz))]
        z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
        return np.stack([x, y, z], axis=-1)


def read_ovf(path: str | Path) -> OVFField:
    """Read an OVF 1.0 or 2.0 file (rectangular mesh; text, binary 4 or binary 8)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise OVFError(f"OVF file {str(path)!r} cannot be read: {exc.strerror or exc}") from None

    def fail(why: str) -> OVFError:
        return OVFError(f"OVF file {str(path)!r}: {why}")

    m = re.search(rb"#\s*Begin:\s*Data\s+(Text|Binary\s+4|Binary\s+8)\s*\r?\n", raw, re.IGNORECASE)
    if not raw.lstrip().startswith(b"#") or m is None:
        raise fail("not an OVF file (no '# Begin: Data Text/Binary 4/Binary 8' section)")
    header_text = raw[:m.start()].decode("latin-1")
    version = 2 if re.search(r"OVF\s+2", header_text.splitlines()[0], re.IGNORECASE) else 1
    header: dict[str, str] = {}
    for line in header_text.splitlines():
        line = line.lstrip("#").strip()
        if ":" in line:
            key, value = line.split(":", 1)
            header.setdefault(key.strip().lower(), value.strip())
    if header.get("meshtype", "rectangular").lower() != "rectangular":
        raise fail(f"meshtype {header['meshtype']!r} is not supported (only rectangular)")
    try:
        nx, ny, nz = (int(header[f"{a}nodes"]) for a in "xyz")
        step = tuple(float(header[f"{a}stepsize"]) for a in "xyz")
        mins = [float(header.get(f"{a}min", "nan")) for a in "xyz"]
        base = tuple(float(header[f"{a}base"]) if f"{a}base" in header else mins[i] + step[i] / 2
                     for i, a in enumerate("xyz"))
        dim = int(header.get("valuedim", "3"))
    except KeyError as exc:
        raise fail(f"header lacks {exc.args[0]!r}") from None
    except ValueError as exc:
        raise fail(f"bad header value ({exc})") from None
    if min(nx, ny, nz) < 1 or dim < 1 or not all(s > 0 for s in step) or not np.all(np.isfinite(base)):
        raise fail(f"bad grid: nodes {nx} x {ny} x {nz}, steps {step}, valuedim {dim}")
    unit = header.get("meshunit", "m").lower()
    if unit not in UNIT_NM:
        raise fail(f"meshunit {unit!r} is not one of {', '.join(UNIT_NM)}")
    count = nx * ny * nz * dim
    kind = m.group(1).decode().split()
    body = raw[m.end():]
    if kind[0].lower() == "text":
        end = re.search(rb"#\s*End:\s*Data", body, re.IGNORECASE)
        if end is None:
            raise fail("truncated: no '# End: Data Text'")
        text = re.sub(rb"#[^\n]*", b"", body[:end.start()])
        try:
            data = np.array(text.split(), dtype=float)
        except ValueError as exc:
            raise fail(f"bad number in the data ({exc})") from None
    else:
        size = int(kind[1])
        dtype = np.dtype(f"{'<' if version == 2 else '>'}f{size}")
        if len(body) < size * (count + 1):
            raise fail(f"truncated: {len(body) // size - 1} of {count} binary values")
        check = np.frombuffer(body, dtype=dtype, count=1)[0]
        if check != CHECK[size]:
            raise fail(f"binary check value {float(check):.7g} is not {CHECK[size]:.15g} "
                       "(byte order or corrupt)")
        data = np.frombuffer(body, dtype=dtype, count=count, offset=size).astype(float)
        if not re.search(rb"#\s*End:\s*Data", body[size * (count + 1):], re.IGNORECASE):
            raise fail("truncated: no '# End: Data' after the binary values")
    if data.size != count:
        raise fail(f"holds {data.size} values, the header's grid needs {count} "
                   f"({nx} x {ny} x {nz} x {dim})")
    if not np.all(np.isfinite(data)):
        raise fail("holds NaN or inf values")
    return OVFField(data.reshape(nz, ny, nx, dim), base, step, unit,
                    header.get("title", ""), header.get("valueunits", ""))


def write_ovf(path: str | Path, field: OVFField, data: str = "text", version: int = 2) -> Path:
    """Write an OVF file as OOMMF lays it out: data = "text", "bin4" or "bin8"; version 2
    (little-endian binary) or 1 (big-endian binary, valuedim 3 only)."""
    path = Path(path)
    nx, ny, nz = field.shape
    dim = field.values.shape[3]
    # plain floats: repr of a numpy scalar is 'np.float64(...)', not a number
    base, stepsize = [float(v) for v in field.base], [float(v) for v in field.step]
    lo = [base[i] - stepsize[i] / 2 for i in range(3)]
    if version not in (1, 2) or (version == 1 and dim != 3):
        raise ValueError(f"OVF version 1 (3 components) or 2, got version {version!r} with {dim}")
    hdr = ["# OOMMF OVF 2.0" if version == 2 else "# OOMMF: rectangular mesh v1.0", "# Segment count: 1", "# Begin: Segment", "# Begin: Header",
           f"# Title: {field.title or 'fem_spin'}", "# meshtype: rectangular",
           f"# meshunit: {field.meshunit}"]
    hdr += [f"# {a}min: {lo[i]!r}" for i, a in enumerate("xyz")]
    hdr += [f"# {a}max: {lo[i] + n * stepsize[i]!r}" for i, (a, n) in enumerate(zip("xyz", (nx, ny, nz)))]
    hdr += ([f"# valuedim: {dim}", f"# valueunits: {' '.join([field.valueunits or '1'] * dim)}"]
            if version == 2 else [f"# valueunit: {field.valueunits or '1'}", "# valuemultiplier: 1"])
    hdr += [f"# {a}base: {base[i]!r}" for i, a in enumerate("xyz")]
    hdr += [f"# {a}nodes: {n}" for a, n in zip("xyz", (nx, ny, nz))]
    hdr += [f"# {a}stepsize: {stepsize[i]!r}" for i, a in enumerate("xyz")]
    hdr += ["# End: Header"]
    flat = field.values.reshape(-1, dim)
    with open(path, "wb") as fh:
        fh.write(("\n".join(hdr) + "\n").encode())
        if data == "text":
            fh.write(b"# Begin: Data Text\n")
            np.savetxt(fh, flat, fmt="%.17g")
            fh.write(b"# End: Data Text\n")
        elif data in ("bin4", "bin8"):
            size = int(data[-1])
            fh.write(f"# Begin: Data Binary {size}\n".encode())
            dtype = np.dtype(f"{'<' if version == 2 else '>'}f{size}")
            fh.write(np.concatenate([[CHECK[size]], flat.reshape(-1)]).astype(dtype).tobytes())
            fh.write(f"\n# End: Data Binary {size}\n".encode())
        else:
            raise ValueError(f"data must be 'text', 'bin4' or 'bin8', got {data!r}")
        fh.write(b"# End: Segment\n")
    return path


@dataclass
class GridMagnetization:
    """M/M0 on mesh points from a cell-centred grid (OVF), trilinear between cell centres.

    A point at p [nm] is looked up at (p - offset_nm) / unit_nm in the file's units. Vectors are
    divided by `norm` (default: the largest |value| in the file), so normalised files and A/m
    files both give |M/M0| = 1 in full cells, and zero vectors (no magnet) give mu = 0, never a
    NaN direction; between a full and an empty cell mu falls linearly. Within the grid's outer
    half cells the value of the nearest centre is kept. A point outside the grid is an error
    unless `outside` is "zero" (no magnet there) or "nearest" (the closest cell's value).

    Attributes:
        field: the grid.
        offset_nm: position of the grid's origin (meshunit 0) on the mesh [nm].
        unit_nm: grid length unit in nm (default: the file's meshunit).
        outside: "error", "zero" or "nearest".
        norm: divisor of the values (None: the largest |value|).
        source: name for messages (the file).
    """

    field: OVFField
    offset_nm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    unit_nm: float | None = None
    outside: str = "error"
    norm: float | None = None
    source: str = "the grid"

    def __post_init__(self) -> None:
        if self.outside not in ("error", "zero", "nearest"):
            raise ValueError(f"outside must be 'error', 'zero' or 'nearest', got {self.outside!r}")
        vals = self.field.values
        if vals.shape[3] != 3:
            raise OVFError(f"{self.source}: valuedim {vals.shape[3]}, a magnetization needs 3")
        bad = np.count_nonzero(~np.isfinite(vals))
        if bad:
            raise OVFError(f"{self.source}: {bad} values are not finite numbers (inf or NaN)")
        # Divided by the largest component first: |v| of values near 1e300 would overflow to
        # inf and the magnet would silently become non-magnetic (issue 23).
        self._scale = float(np.max(np.abs(vals))) or 1.0
        self._values = vals / self._scale
        if self.norm is None:
            self.norm = self._scale * float(np.max(np.linalg.norm(self._values, axis=-1)))
        if not self.norm > 0:
            raise OVFError(f"{self.source}: every vector is zero (no magnetization)")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        f = self.field
        unit = self.unit_nm if self.unit_nm is not None else f.unit_nm
        p = (x.T - np.asarray(self.offset_nm)) / unit  # (N, 3) in the file's units
        n = np.array(f.shape)
        step, base = np.asarray(f.step), np.asarray(f.base)
        s = (p - base) / step  # fractional index of the cell centres
        tol = 1e-9 * n
        inside = np.all((s >= -0.5 - tol) & (s <= n - 0.5 + tol), axis=1)
        if not np.all(inside) and self.outside == "error":
            bad = p[~inside][0] * unit + np.asarray(self.offset_nm)
            lo, hi = (base - step / 2) * unit + self.offset_nm, (base + (n - 0.5) * step) * unit + self.offset_nm
            raise OVFError(f"{self.source}: {np.count_nonzero(~inside)} mesh points lie outside the grid "
                           f"[{lo[0]:.4g}, {hi[0]:.4g}] x [{lo[1]:.4g}, {hi[1]:.4g}] x [{lo[2]:.4g}, "
                           f"{hi[2]:.4g}] nm, e.g. ({bad[0]:.4g}, {bad[1]:.4g}, {bad[2]:.4g}) nm; move it "
                           "with offset_nm or set outside = \"zero\" or \"nearest\"")
        s = np.clip(s, 0.0, n - 1)
        i0 = np.minimum(np.floor(s).astype(int), np.maximum(n - 2, 0))
        t = s - i0
        i1 = np.minimum(i0 + 1, n - 1)
        out = np.zeros((len(p), 3))
        vals = self._values
        for cx in (0, 1):
            ix, wx = (i1[:, 0], t[:, 0]) if cx else (i0[:, 0], 1 - t[:, 0])
            for cy in (0, 1):
                iy, wy = (i1[:, 1], t[:, 1]) if cy else (i0[:, 1], 1 - t[:, 1])
                for cz in (0, 1):
                    iz, wz = (i1[:, 2], t[:, 2]) if cz else (i0[:, 2], 1 - t[:, 2])
                    out += (wx * wy * wz)[:, None] * vals[iz, iy, ix]
        out /= self.norm / self._scale
        if self.outside == "zero":
            out[~inside] = 0.0
        return out.T


def write_state_ovf(path: str | Path, u, cells: np.ndarray, step_nm: float, title: str = "") -> Path | None:
    """A magnetization state as an OVF 2.0 file (binary 8, meshunit m, normalised m as mumax3
    writes it), so that it can start the next case (`profile = "ovf"`) or go to OOMMF/mumax3
    tools: the P1 field u (mesh in nm) sampled at the cell centres of a grid over the bounding
    box of `cells` (local cell indices, the magnets) with cells of about step_nm; centres outside
    those cells get the zero vector (no magnet). Collective; rank 0 writes (returns the path
    there, None elsewhere)."""
    from fem_spin._backend import MPI, dolfinx
    from fem_spin.io.output import sample

    mesh = u.function_space.mesh
    comm = mesh.comm
    nodes = np.unique(dolfinx.mesh.entities_to_geometry(mesh, mesh.topology.dim, np.asarray(cells, np.int32)))
    x = mesh.geometry.x[nodes] if len(nodes) else np.zeros((0, 3))
    lo = x.min(axis=0) if len(x) else np.full(3, np.inf)
    hi = x.max(axis=0) if len(x) else np.full(3, -np.inf)
    comm.Allreduce(MPI.IN_PLACE, lo, op=MPI.MIN)
    comm.Allreduce(MPI.IN_PLACE, hi, op=MPI.MAX)
    n = np.maximum(1, np.round((hi - lo) / step_nm)).astype(int)
    step = np.where(hi > lo, (hi - lo) / n, step_nm)
    # a flat axis (a 1D or 2D mesh) has one cell, centred on the mesh
    axes = [lo[i] + step[i] * (np.arange(n[i]) + 0.5) if hi[i] > lo[i] else lo[i:i + 1] for i in range(3)]
    z, y, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    centres = np.stack([xx, y, z], axis=-1).reshape(-1, 3)
    values = sample(u, centres, cells)
    if comm.rank != 0:
        return None
    values = np.nan_to_num(values, nan=0.0)
    norm = np.linalg.norm(values, axis=1)
    values[norm > 0] /= norm[norm > 0, None]  # u is unit at the nodes, not between them
    field = OVFField(values=values.reshape(n[2], n[1], n[0], 3), base=tuple(1e-9 * a[0] for a in axes),
                     step=tuple(1e-9 * step), meshunit="m", title=title or "fem_spin u")
    partial = Path(path).with_name(Path(path).name + ".partial")
    write_ovf(partial, field, data="bin8", version=2)
    partial.replace(path)
    return Path(path)
