"""VTK XML output that every ParaView reads: binary, zlib-compressed .vtu pieces (one per rank),
a .pvtu that joins them and a .pvd collection (one entry per time), written once.

Why our own writer: DOLFINx's VTKFile writes ASCII (several times larger and slower), and its
VTX (.bp) files need an ADIOS2 reader that many ParaView builds (e.g. Debian's) lack. Point
fields share the nodes of the first function's space (Lagrange P_k cells as VTK arbitrary-order
Lagrange cells); cell fields (DG0) are cell data. Every rank writes its own piece, so the write
stage scales with the ranks; rank 0 writes the small .pvtu/.pvd files.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from fem_spin._backend import dolfinx

_BLOCK = 1 << 20  # bytes per compressed block (VTK's default is 32 KiB; larger compresses better)
_VTK_TYPES = {np.dtype(np.float64): "Float64", np.dtype(np.float32): "Float32",
              np.dtype(np.int64): "Int64", np.dtype(np.int32): "Int32", np.dtype(np.uint8): "UInt8"}
AXES = "xyz"


def _compressed(arr: np.ndarray, level: int) -> bytes:
    """VTK's zlib block format with a UInt64 header: nblocks, block size, last size, sizes."""
    raw = np.ascontiguousarray(arr).tobytes()
    blocks = [raw[i:i + _BLOCK] for i in range(0, len(raw), _BLOCK)]
    comp = [zlib.compress(b, level) for b in blocks]
    last = len(blocks[-1]) if blocks else 0
    header = np.array([len(blocks), _BLOCK, last, *map(len, comp)], dtype="<u8")
    return header.tobytes() + b"".join(comp)


def component_names(name: str, ncomp: int) -> list[str] | None:
    """ParaView's component labels: x, y, z for vectors; for a 3x3 tensor J[k, j] (k the spin
    component, j the space direction, flattened k*3 + j) 'Jxy' etc., with the field's base name."""
    if ncomp == 3:
        return list(AXES)
    if ncomp == 9:
        base = name.split("_")[0]
        return [f"{base}{AXES[k]}{AXES[j]}" for k in range(3) for j in range(3)]
    return None


def _data_array(name: str | None, arr: np.ndarray, offset: int) -> str:
    ncomp = arr.shape[1] if arr.ndim == 2 else 1
    attrs = [f'type="{_VTK_TYPES[arr.dtype]}"']
    if name is not None:
        attrs.append(f'Name="{name}"')
    attrs.append(f'NumberOfComponents="{ncomp}"')
    for i, c in enumerate((component_names(name, ncomp) if name else None) or []):
        attrs.append(f'ComponentName{i}="{c}"')
    attrs += ['format="appended"', f'offset="{offset}"']
    return f"<DataArray {' '.join(attrs)}/>"


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a reader (or a killed run) never sees half a collection file


class Piece:
    """The local cells and nodes of one Lagrange space: VTK points, connectivity and types."""

    def __init__(self, V: dolfinx.fem.FunctionSpace):
        self.V = V
        topology, cell_types, x = dolfinx.plot.vtk_mesh(V)
        ncells = len(cell_types)
        nodes = topology.reshape(ncells, -1)[:, 1:] if ncells else np.zeros((0, 1), np.int64)
        # Only the nodes of this rank's cells (a ghost node no local cell uses would be a stray
        # point with no cell around it).
        self.used, local = np.unique(nodes, return_inverse=True)
        nodes = local.reshape(nodes.shape)
        x = x[self.used]
        self.num_points = x.shape[0]
        self.num_cells = ncells
        idx = np.int32 if self.num_points < 2**31 - 1 else np.int64
        self.arrays = [("connectivity", nodes.ravel().astype(idx)),
                       ("offsets", (np.arange(1, ncells + 1) * nodes.shape[1]).astype(idx)),
                       ("types", np.asarray(cell_types, dtype=np.uint8))]
        self.points = np.ascontiguousarray(x, dtype=np.float64)
        self._cache: dict[int, list[bytes]] = {}

    def node_values(self, f: dolfinx.fem.Function) -> np.ndarray:
        """f's values at this piece's nodes, (num_points, components); f must live on a Lagrange
        space of the same degree (its own dof numbering is mapped cell by cell)."""
        bs = f.function_space.dofmap.index_map_bs
        vals = f.x.array.reshape(-1, bs)
        if f.function_space is self.V:
            return vals[self.used]
        if f.function_space.dofmap.dof_layout.num_dofs != self.V.dofmap.dof_layout.num_dofs:
            raise ValueError(f"{f.name}: not on a Lagrange space of the piece's degree")
        mine = self.V.dofmap.list[: self.num_cells].ravel()
        theirs = f.function_space.dofmap.list[: self.num_cells].ravel()
        perm = np.zeros(self.V.dofmap.index_map.size_local + self.V.dofmap.index_map.num_ghosts,
                        dtype=np.int64)
        perm[mine] = theirs
        return vals[perm[self.used]]

    def geometry_blocks(self, level: int) -> list[bytes]:
        if level not in self._cache:  # the mesh does not move: compress it once per series
            self._cache[level] = [_compressed(self.points, level)] + \
                [_compressed(a, level) for _, a in self.arrays]
        return self._cache[level]


def _cell_values(f: dolfinx.fem.Function, ncells: int) -> np.ndarray:
    bs = f.function_space.dofmap.index_map_bs
    dofs = f.function_space.dofmap.list[:ncells, 0]
    return f.x.array.reshape(-1, bs)[dofs]


def write_piece(path: Path, piece: Piece, point_data: list[tuple[str, np.ndarray]],
                cell_data: list[tuple[str, np.ndarray]], level: int = 1) -> None:
    """One rank's .vtu: binary appended data, zlib-compressed."""
    blocks, xml_pd, xml_cd, offset = [], [], [], 0
    for xml, data in ((xml_pd, point_data), (xml_cd, cell_data)):
        for name, arr in data:
            b = _compressed(arr, level)
            xml.append(_data_array(name, arr, offset))
            blocks.append(b)
            offset += len(b)
    geo = piece.geometry_blocks(level)
    xml_pts = _data_array(None, piece.points, offset)
    offset += len(geo[0])
    xml_cells = []
    for (name, arr), b in zip(piece.arrays, geo[1:]):
        xml_cells.append(_data_array(name, arr, offset))
        offset += len(b)
    head = (
        '<?xml version="1.0"?>\n'
        '<VTKFile type="UnstructuredGrid" version="1.0" byte_order="LittleEndian" '
        'header_type="UInt64" compressor="vtkZLibDataCompressor">\n<UnstructuredGrid>\n'
        f'<Piece NumberOfPoints="{piece.num_points}" NumberOfCells="{piece.num_cells}">\n'
        f'<PointData>{"".join(xml_pd)}</PointData>\n<CellData>{"".join(xml_cd)}</CellData>\n'
        f'<Points>{xml_pts}</Points>\n<Cells>{"".join(xml_cells)}</Cells>\n'
        '</Piece>\n</UnstructuredGrid>\n<AppendedData encoding="raw">\n_')
    with open(path, "wb") as fh:
        fh.write(head.encode())
        for b in (*blocks, *geo):
            fh.write(b)
        fh.write(b"\n</AppendedData>\n</VTKFile>\n")


def _pvtu(pieces: list[str], point_data, cell_data) -> str:
    def p(name, arr):
        ncomp = arr.shape[1] if arr.ndim == 2 else 1
        names = "".join(f' ComponentName{i}="{c}"' for i, c in enumerate(component_names(name, ncomp) or []))
        kind = _VTK_TYPES[arr.dtype]
        return f'<PDataArray type="{kind}" Name="{name}" NumberOfComponents="{ncomp}"{names}/>'
    return ('<?xml version="1.0"?>\n<VTKFile type="PUnstructuredGrid" version="1.0" '
            'byte_order="LittleEndian" header_type="UInt64">\n<PUnstructuredGrid GhostLevel="0">\n'
            f'<PPointData>{"".join(p(n, a) for n, a in point_data)}</PPointData>\n'
            f'<PCellData>{"".join(p(n, a) for n, a in cell_data)}</PCellData>\n'
            '<PPoints><PDataArray type="Float64" NumberOfComponents="3"/></PPoints>\n'
            + "".join(f'<Piece Source="{s}"/>\n' for s in pieces)
            + "</PUnstructuredGrid>\n</VTKFile>\n")


class VTUSeries:
    """A .pvd collection of .pvtu files (one per write, pieces per rank) in folder/name/.

    `functions`: point fields (Lagrange, the degree of the first); `cell_functions`: DG0 fields
    as cell data. Each write adds a time to name.pvd, which is rewritten whole each time (so a
    killed run leaves a valid collection of the steps written so far). `precision` 'single'
    halves the bytes of the fields (positions stay double).
    """

    def __init__(self, folder: Path, name: str, functions: list, cell_functions: list = (),
                 precision: str = "double", level: int = 1, entries: list | None = None):
        self.folder, self.name = Path(folder), name
        self.functions, self.cell_functions = list(functions), list(cell_functions)
        self.comm = self.functions[0].function_space.mesh.comm
        self.piece = Piece(self.functions[0].function_space)
        self.dtype = np.float32 if precision == "single" else np.float64
        self.level = level
        # (time, file) already in the collection: a resumed run goes on after them
        self.entries: list[tuple[float, str]] = [tuple(e) for e in (entries or [])]
        if self.comm.rank == 0:
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        self.comm.Barrier()

    def write(self, t: float) -> None:
        i = len(self.entries)
        def column(a):  # scalars as 1D arrays, in the files' precision
            a = a.astype(self.dtype, copy=False)
            return a[:, 0] if a.shape[1] == 1 else a

        pd = [(f.name, column(self.piece.node_values(f))) for f in self.functions]
        cd = [(f.name, column(_cell_values(f, self.piece.num_cells))) for f in self.cell_functions]
        stem = f"{i:06d}"
        write_piece(self.folder / self.name / f"{stem}_p{self.comm.rank}.vtu", self.piece, pd, cd, self.level)
        self.entries.append((t, f"{self.name}/{stem}.pvtu"))
        self.comm.Barrier()  # every piece is complete before the collection names it
        if self.comm.rank == 0:
            pieces = [f"{stem}_p{r}.vtu" for r in range(self.comm.size)]
            (self.folder / self.name / f"{stem}.pvtu").write_text(_pvtu(pieces, pd, cd))
            _atomic_write_text(self.folder / f"{self.name}.pvd", pvd_text(self.entries))

    def close(self) -> None:  # nothing stays open; called with DOLFINx's writers
        pass


def pvd_text(entries: list[tuple[float, str]]) -> str:
    rows = "".join(f'<DataSet timestep="{t:.17g}" part="0" file="{f}"/>\n' for t, f in entries)
    return ('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">\n'
            f"<Collection>\n{rows}</Collection>\n</VTKFile>\n")


def write_vtu(folder: Path, name: str, functions: list, cell_functions: list = (), t: float = 0.0,
              precision: str = "double") -> Path:
    """One time: folder/name.pvd -> name/000000.pvtu -> one .vtu per rank."""
    VTUSeries(folder, name, functions, cell_functions, precision).write(t)
    return Path(folder) / f"{name}.pvd"

