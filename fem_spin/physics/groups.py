"""Nodal (P1) fields on a group of cells, the same on every partition.

A rank holds its own cells and the ghosts that share a facet with them. A node it owns may
belong to a group's cell that is on another rank and not among its ghosts (a cell touching it
by a vertex or an edge only), so interpolating on the group's local cells leaves that node
unset on the owner, and the forward scatter then spreads the unset value: on 2 ranks the pillar's
free layer started with u = 0 at such nodes (exchange energy 6.5e-20 J where 1 rank has 0), the
Pt/Co strip's twin got u = 0 at one Co/Pt node (issue 36). Here the ranks that do see the node
send it to its owner (a reverse scatter), so a node's value depends only on the group's cells.
"""

from __future__ import annotations

import numpy as np

from fem_spin._backend import dolfinx


def group_nodes(V, cells: np.ndarray | None) -> np.ndarray:
    """A mask over V's local nodes (owned and ghost): True where a cell of the group, on any
    rank, has the node (every node for cells None)."""
    imap = V.dofmap.index_map
    n = imap.size_local + imap.num_ghosts
    if cells is None:
        return np.ones(n, dtype=bool)
    flag = dolfinx.la.vector(imap, 1)
    flag.array[:] = 0.0
    flag.array[np.unique(V.dofmap.list[cells].reshape(-1))] = 1.0
    flag.scatter_reverse(dolfinx.la.InsertMode.add)
    flag.scatter_forward()
    return flag.array > 0


def interpolate_on(f, source, cells: np.ndarray | None) -> np.ndarray:
    """f <- source (what Function.interpolate takes) at the nodes of the group's cells (local
    and ghost cells, as with_ghosts gives them), every other node kept; a node several ranks
    compute takes their mean (the same value, a continuous source). Returns the group's node
    mask (group_nodes)."""
    V = f.function_space
    if cells is None:
        f.interpolate(source)
        f.x.scatter_forward()
        return group_nodes(V, None)
    imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    tmp = dolfinx.fem.Function(V)
    tmp.interpolate(source, cells0=cells)
    here = np.zeros(imap.size_local + imap.num_ghosts)
    here[np.unique(V.dofmap.list[cells].reshape(-1))] = 1.0
    total = dolfinx.la.vector(imap, bs)
    total.array[:] = tmp.x.array * np.repeat(here, bs)
    count = dolfinx.la.vector(imap, 1)
    count.array[:] = here
    for v in (total, count):
        v.scatter_reverse(dolfinx.la.InsertMode.add)
    owned = imap.size_local
    c = count.array[:owned]
    hit = c > 0
    values = f.x.array.reshape(-1, bs)
    values[:owned][hit] = total.array[: owned * bs].reshape(-1, bs)[hit] / c[hit, None]
    f.x.scatter_forward()
    count.scatter_forward()
    return count.array > 0
