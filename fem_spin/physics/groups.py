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


def _node_counts(V, cells: np.ndarray) -> np.ndarray:
    """How many ranks' local cells of the group have each of V's local nodes (owned and ghost;
    0: a node of no group cell), known on every rank (a reverse, then a forward scatter)."""
    count = dolfinx.la.vector(V.dofmap.index_map, 1)
    count.array[:] = 0.0
    count.array[np.unique(V.dofmap.list[cells].reshape(-1))] = 1.0
    count.scatter_reverse(dolfinx.la.InsertMode.add)
    count.scatter_forward()
    return count.array.copy()


def group_nodes(V, cells: np.ndarray | None) -> np.ndarray:
    """A mask over V's local nodes (owned and ghost): True where a cell of the group, on any
    rank, has the node (every node for cells None)."""
    imap = V.dofmap.index_map
    if cells is None:
        return np.ones(imap.size_local + imap.num_ghosts, dtype=bool)
    return _node_counts(V, cells) > 0


class GroupInterpolation:
    """f <- source (what Function.interpolate takes) at the nodes of a group's cells (local and
    ghost cells, as with_ghosts gives them), every other node kept; a node several ranks compute
    takes their mean (the same value, a continuous source). Built once per (space, group): the
    node counts and work arrays are the group's, so a call per time step (B_sd) is one
    interpolation and one reverse scatter."""

    def __init__(self, V, cells: np.ndarray | None):
        self.cells = cells
        if cells is None:
            return
        imap, self.bs = V.dofmap.index_map, V.dofmap.index_map_bs
        self.owned = imap.size_local
        here = np.zeros(imap.size_local + imap.num_ghosts)
        here[np.unique(V.dofmap.list[cells].reshape(-1))] = 1.0
        self.here = np.repeat(here, self.bs)  # this rank's share of each sum
        counts = _node_counts(V, cells)[: self.owned]
        self.hit = counts > 0
        self.counts = counts[self.hit, None]
        self.tmp = dolfinx.fem.Function(V)
        self.total = dolfinx.la.vector(imap, self.bs)

    def __call__(self, f, source) -> None:
        if self.cells is None:
            f.interpolate(source)
            f.x.scatter_forward()
            return
        self.tmp.interpolate(source, cells0=self.cells)
        self.total.array[:] = self.tmp.x.array * self.here
        self.total.scatter_reverse(dolfinx.la.InsertMode.add)
        sums = self.total.array[: self.owned * self.bs].reshape(-1, self.bs)
        f.x.array.reshape(-1, self.bs)[: self.owned][self.hit] = sums[self.hit] / self.counts
        f.x.scatter_forward()
