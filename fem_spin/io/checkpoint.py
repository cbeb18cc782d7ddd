"""Solution checkpoints that any number of ranks can read back exactly: a folder with one raw
float64 file per function and a JSON header.

Values are stored cell by cell in the order of the mesh's original (input) cell numbers, each
rank writing and reading its own cells through an MPI-IO file view, so the layout does not
depend on the partition: a checkpoint written on 16 ranks reads on 1. The cells' midpoints are
stored too and compared on reading, so a checkpoint of another mesh is refused, not
misread. (DOLFINx's ADIOS2 checkpointing needs the adios4dolfinx package and ADIOS2's Python
bindings, which the PyPI DOLFINx wheel does not ship; this needs only MPI.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fem_spin._backend import MPI, dolfinx
from fem_spin.io.case import InputError
from fem_spin.parallel import on_root

FORMAT = "fem_spin checkpoint 1"


class CheckpointError(InputError):
    """A checkpoint that does not exist or does not belong to this mesh and space."""


def _view(comm, ncomp: int, cells: np.ndarray):
    """MPI datatypes: one record of `ncomp` doubles per cell at its original index."""
    record = MPI.DOUBLE.Create_contiguous(ncomp).Commit()
    order = np.argsort(cells)
    filetype = record.Create_indexed_block(1, cells[order].astype(np.int32).tolist()).Commit()
    return record, filetype, order


def _cells(mesh) -> tuple[np.ndarray, int]:
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    return np.asarray(mesh.topology.original_cell_index[:n], dtype=np.int64), n


def _midpoints(mesh, n: int) -> np.ndarray:
    return dolfinx.mesh.compute_midpoints(mesh, mesh.topology.dim, np.arange(n, dtype=np.int32))


def _io(comm, path: Path, ncomp: int, cells: np.ndarray, data: np.ndarray | None, write: bool) -> np.ndarray:
    record, filetype, order = _view(comm, ncomp, cells)
    mode = (MPI.MODE_WRONLY | MPI.MODE_CREATE) if write else MPI.MODE_RDONLY
    fh = MPI.File.Open(comm, str(path), mode)
    try:
        fh.Set_view(0, record, filetype)
        if write:
            fh.Write_all(np.ascontiguousarray(data[order]))
            out = data
        else:
            buf = np.empty((len(cells), ncomp))
            fh.Read_all(buf)
            out = np.empty_like(buf)
            out[order] = buf
    finally:
        fh.Close()
        filetype.Free()
        record.Free()
    return out


def write_checkpoint(folder: Path, functions: dict[str, dolfinx.fem.Function], meta: dict | None = None) -> Path:
    """Write `functions` (name -> Function, all on one mesh) into `folder` (created)."""
    folder = Path(folder)
    first = next(iter(functions.values()))
    mesh = first.function_space.mesh
    comm = mesh.comm
    if comm.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    cells, n = _cells(mesh)
    header = {"format": FORMAT, "cells": mesh.topology.index_map(mesh.topology.dim).size_global,
              "cell_type": mesh.topology.cell_name(), "functions": {}, **(meta or {})}
    _io(comm, folder / "midpoints.bin", 3, cells, _midpoints(mesh, n), write=True)
    for name, f in functions.items():
        V = f.function_space
        dofs = V.dofmap.list[:n]
        bs = V.dofmap.index_map_bs
        values = f.x.array.reshape(-1, bs)[dofs].reshape(n, -1)
        _io(comm, folder / f"{name}.bin", values.shape[1], cells, values, write=True)
        header["functions"][name] = {"element": str(V.ufl_element()), "dofs_per_cell": dofs.shape[1],
                                     "block_size": bs}
    if comm.rank == 0:
        (folder / "checkpoint.json").write_text(json.dumps(header, indent=1) + "\n")
    comm.Barrier()
    return folder


def read_header(folder: Path) -> dict:
    path = Path(folder) / "checkpoint.json"
    try:
        header = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{str(folder)!r} is not a fem-spin checkpoint ({exc})") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r}: format {header.get('format')!r}, expected {FORMAT!r}")
    return header


def read_checkpoint(folder: Path, functions: dict[str, dolfinx.fem.Function], tol: float = 1e-9) -> dict:
    """Fill `functions` from the checkpoint in `folder`; returns its header. Collective.

    Raises CheckpointError if the checkpoint is of another mesh (cell count, type or cell
    midpoints) or another space."""
    folder = Path(folder)
    first = next(iter(functions.values()))
    mesh = first.function_space.mesh
    comm = mesh.comm
    header = on_root(comm, lambda: read_header(folder))
    nglobal = mesh.topology.index_map(mesh.topology.dim).size_global
    if header["cells"] != nglobal or header["cell_type"] != mesh.topology.cell_name():
        raise CheckpointError(f"checkpoint {str(folder)!r} is of a mesh of {header['cells']} "
                              f"{header['cell_type']} cells; this one has {nglobal} {mesh.topology.cell_name()}")
    cells, n = _cells(mesh)
    mids = _io(comm, folder / "midpoints.bin", 3, cells, None, write=False)
    scale = comm.allreduce(float(np.abs(mesh.geometry.x).max(initial=0.0)), op=MPI.MAX) or 1.0
    off = comm.allreduce(float(np.abs(mids - _midpoints(mesh, n)).max(initial=0.0)), op=MPI.MAX)
    if off > tol * scale:
        raise CheckpointError(f"checkpoint {str(folder)!r} is of another mesh with as many cells "
                              f"(cell midpoints differ by up to {off:.3g} nm); use the mesh file it "
                              "was computed on (geometry.mesh_file)")
    for name, f in functions.items():
        V = f.function_space
        spec = header["functions"].get(name)
        if spec is None or spec["element"] != str(V.ufl_element()):
            raise CheckpointError(f"checkpoint {str(folder)!r} has no {name!r} on {V.ufl_element()} "
                                  f"(it has {header['functions']})")
        dofs = V.dofmap.list[:n]
        bs = V.dofmap.index_map_bs
        values = _io(comm, folder / f"{name}.bin", dofs.shape[1] * bs, cells, None, write=False)
        f.x.array.reshape(-1, bs)[dofs.ravel()] = values.reshape(-1, bs)
        f.x.scatter_forward()
    return header
