"""Optimal one-to-one assignment (the Hungarian method, O(n^3)) for small tracking matrices."""

from __future__ import annotations

import numpy as np

__all__ = ["linear_assignment"]


def linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost matching of a ``[R, C]`` cost matrix.

    Every row is matched when ``R <= C`` (else every column); returns ``(rows, cols)`` index arrays,
    sorted by row, as ``scipy.optimize.linear_sum_assignment`` does.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {cost.shape}")
    if not np.isfinite(cost).all():
        raise ValueError("cost must be finite")
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    n, m = cost.shape
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # shortest augmenting paths with potentials u (rows) and v (columns); column 0 is a virtual start
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    row_of = np.zeros(m + 1, np.int64)  # row (1-based) matched to each column, 0 = free
    for i in range(1, n + 1):
        row_of[0] = i
        j0 = 0
        dist = np.full(m + 1, np.inf)
        prev = np.zeros(m + 1, np.int64)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0 = row_of[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < dist[1:])
            dist[1:][better] = reduced[better]
            prev[1:][better] = j0
            cand = np.where(free, dist[1:], np.inf)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            u[row_of[used]] += delta
            v[used] -= delta
            dist[1:][free] -= delta
            j0 = j1
            if row_of[j0] == 0:
                break
        while j0:  # flip the augmenting path
            j1 = prev[j0]
            row_of[j0] = row_of[j1]
            j0 = j1
    cols = np.flatnonzero(row_of[1:])
    rows = row_of[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order].astype(np.int64), cols[order].astype(np.int64)
