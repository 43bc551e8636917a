"""The two numeric parts of the tracker against plain references written here: the block-diagonal Kalman
filter against a dense 8x8 filter, the assignment against brute force over every matching."""

from __future__ import annotations

import itertools

import numpy as np

from edge import kalman
from edge.assignment import assign


def _dense(cov: np.ndarray) -> np.ndarray:
    p = np.zeros((8, 8))
    for i in range(4):
        p[i, i], p[i, i + 4], p[i + 4, i], p[i + 4, i + 4] = cov[0, i], cov[1, i], cov[1, i], cov[2, i]
    return p


def test_block_kalman_equals_the_dense_filter():
    noise = kalman.KalmanNoise()
    rng = np.random.default_rng(0)
    f = np.eye(8)
    f[:4, 4:] = np.eye(4)
    h_mat = np.eye(4, 8)
    z0 = np.array([100.0, 200.0, 0.5, 80.0])
    mean, cov = kalman.initiate(z0[None], noise)
    md, pd = mean[0].copy(), _dense(cov[0])
    for step in range(40):
        h = md[3]
        q = np.array([h / 20, h / 20, 1e-2, h / 20, h / 160, h / 160, 1e-5, h / 160]) ** 2
        md, pd = f @ md, f @ pd @ f.T + np.diag(q)
        mean, cov = kalman.predict(mean, cov, noise)
        assert np.allclose(mean[0], md) and np.allclose(_dense(cov[0]), pd)
        if step % 7 == 3:
            continue  # a missed frame: predict only
        z = z0 + np.array([3.0 * step, step, 0.0, 0.5 * step]) + rng.normal(0, 1, 4) * [1, 1, 0.01, 1]
        h = md[3]
        s = h_mat @ pd @ h_mat.T + np.diag(np.array([h / 20, h / 20, 1e-1, h / 20]) ** 2)
        k = pd @ h_mat.T @ np.linalg.inv(s)
        md, pd = md + k @ (z - h_mat @ md), pd - k @ s @ k.T
        mean, cov = kalman.update(mean, cov, z[None], noise)
        assert np.allclose(mean[0], md) and np.allclose(_dense(cov[0]), pd)
    assert abs(mean[0, 4] - 3.0) < 0.5  # it learnt the x velocity


def _brute(cost: np.ndarray, max_cost: float) -> tuple[int, float]:
    """Most pairs, then least total cost, over every partial matching."""
    n, m = cost.shape
    best = (0, 0.0)
    for k in range(1, min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                c = cost[list(rows), list(cols)]
                if np.all(c <= max_cost) and (k > best[0] or (k == best[0] and c.sum() < best[1])):
                    best = (k, float(c.sum()))
    return best


def test_assignment_matches_brute_force_on_random_sparse_matrices():
    rng = np.random.default_rng(3)
    for _ in range(300):
        n, m = rng.integers(1, 6, 2)
        cost = rng.random((n, m))
        cost[rng.random((n, m)) < 0.4] = np.inf
        rows, cols = assign(cost, 0.9)
        assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
        assert np.all(cost[rows, cols] <= 0.9)
        count, total = _brute(cost, 0.9)
        assert len(rows) == count and abs(float(cost[rows, cols].sum()) - total) < 1e-9, cost
