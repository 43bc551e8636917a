"""Minimum-cost one-to-one assignment for the tracker, pure numpy.

``assign(cost, max_cost)`` returns the (row, column) pairs of a minimum-total-cost matching that uses only
entries ``<= max_cost``. Pairs that are unambiguous (the only allowed entry of both their row and their column)
are taken directly; what is left is split into groups that compete for nothing outside the group (connected
components of the allowed entries), and each group with more than one row and column goes through the
Hungarian method (shortest augmenting paths with row and
column potentials, O(n^2 m)), with the inner loop over columns vectorised.
"""

from __future__ import annotations

import numpy as np


def assign(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray]:
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"assign: cost must be a 2-D matrix, got shape {cost.shape}")
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    if cost.size == 0:
        return empty
    allowed = cost <= max_cost
    row_n, col_n = allowed.sum(1), allowed.sum(0)
    # unambiguous pairs: sole candidate of its row and of its column
    r1, c1 = np.nonzero(allowed & (row_n[:, None] == 1) & (col_n[None, :] == 1))
    free_r, free_c = row_n > 0, col_n > 0
    free_r[r1] = False
    free_c[c1] = False
    rest_r, rest_c = np.nonzero(free_r)[0], np.nonzero(free_c)[0]
    if len(rest_r) == 0 or len(rest_c) == 0:
        return r1.astype(np.int64), c1.astype(np.int64)
    out_r, out_c = [r1], [c1]
    for rows, cols in _components(allowed[np.ix_(rest_r, rest_c)]):
        rows, cols = rest_r[rows], rest_c[cols]
        sub = cost[np.ix_(rows, cols)]
        if len(rows) == 1 or len(cols) == 1:  # one side of one: the cheapest allowed entry
            k = int(np.argmin(sub))
            out_r.append(rows[[k // sub.shape[1]]])
            out_c.append(cols[[k % sub.shape[1]]])
            continue
        ok_entries = sub <= max_cost
        big = max_cost + 1.0 + float(np.abs(sub[ok_entries]).sum())
        sub = np.where(ok_entries, sub, big)  # forbidden entries: dearer than any allowed matching
        r, c = _hungarian(sub)
        ok = sub[r, c] <= max_cost
        out_r.append(rows[r[ok]])
        out_c.append(cols[c[ok]])
    return np.concatenate(out_r).astype(np.int64), np.concatenate(out_c).astype(np.int64)


def _components(allowed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Connected components of the bipartite graph of allowed entries: (rows, cols) index arrays each.
    Rows and columns in different components never compete, so each is solved on its own."""
    n = allowed.shape[0]
    parent = list(range(n + allowed.shape[1]))  # rows 0..n-1, columns n..

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r, c in zip(*np.nonzero(allowed)):
        a, b = find(int(r)), find(n + int(c))
        if a != b:
            parent[a] = b
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for x in range(len(parent)):
        rows, cols = groups.setdefault(find(x), ([], []))
        (rows if x < n else cols).append(x if x < n else x - n)
    return [(np.array(r, dtype=np.int64), np.array(c, dtype=np.int64)) for r, c in groups.values() if r and c]


def _hungarian(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full minimum-cost assignment of a dense matrix (every row of the shorter side is matched)."""
    transposed = a.shape[0] > a.shape[1]
    if transposed:
        a = a.T
    n, m = a.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=np.int64)  # p[j]: row (1-based) matched to column j; column 0 is the root
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used
            free[0] = False
            cur = a[i0 - 1] - u[i0] - v[1:]
            better = free[1:] & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            masked = np.where(free, minv, np.inf)
            j1 = int(np.argmin(masked))
            delta = masked[j1]
            u[p[used]] += delta
            v[used] -= delta
            minv[free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    cols = np.nonzero(p[1:])[0]
    rows = p[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order], cols[order]
