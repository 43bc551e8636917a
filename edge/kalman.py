"""Constant-velocity Kalman filter on boxes, batched over tracks, pure numpy.

The state of one box is (cx, cy, a, h, vcx, vcy, va, vh): centre, aspect ratio w/h, height and their rates
per frame. Position and velocity noise scale with the box height (a box far away moves fewer pixels), the
aspect ratio has small fixed noise. Every function takes and returns stacked arrays: means (N, 8) and
covariances (N, 8, 8), so one call serves every track of a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)  # x' = x + v (one frame)
_H = np.eye(4, 8)  # we observe (cx, cy, a, h)


@dataclass(frozen=True)
class KalmanNoise:
    """Standard deviations relative to the box height (per frame)."""

    position: float = 1 / 20
    velocity: float = 1 / 160


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-3)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-3)
    return np.stack([boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, w / h, h], axis=1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    xyah = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
    h = xyah[:, 3]
    w = xyah[:, 2] * h
    return np.stack([xyah[:, 0] - w / 2, xyah[:, 1] - h / 2, xyah[:, 0] + w / 2, xyah[:, 1] + h / 2], axis=1)


def initiate(measurements: np.ndarray, noise: KalmanNoise) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from (N, 4) xyah measurements: zero velocity, wide velocity uncertainty."""
    z = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
    n = len(z)
    mean = np.concatenate([z, np.zeros((n, 4))], axis=1)
    h = z[:, 3]
    p, v = 2 * noise.position * h, 10 * noise.velocity * h
    std = np.stack([p, p, np.full(n, 1e-2), p, v, v, np.full(n, 1e-5), v], axis=1)
    cov = np.zeros((n, 8, 8))
    idx = np.arange(8)
    cov[:, idx, idx] = std ** 2
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray, noise: KalmanNoise) -> tuple[np.ndarray, np.ndarray]:
    if len(mean) == 0:
        return mean, cov
    h = mean[:, 3]
    p, v = noise.position * h, noise.velocity * h
    q = np.stack([p, p, np.full(len(h), 1e-2), p, v, v, np.full(len(h), 1e-5), v], axis=1) ** 2
    mean = mean @ _F.T
    cov = _F @ cov @ _F.T
    idx = np.arange(8)
    cov[:, idx, idx] += q
    return mean, cov


def update(mean: np.ndarray, cov: np.ndarray, z: np.ndarray, noise: KalmanNoise) -> tuple[np.ndarray, np.ndarray]:
    """Correct (M, 8) states with (M, 4) xyah measurements."""
    if len(mean) == 0:
        return mean, cov
    h = mean[:, 3]
    p = noise.position * h
    r = np.stack([p, p, np.full(len(h), 1e-1), p], axis=1) ** 2
    proj_mean = mean[:, :4]
    ph = cov[:, :, :4]  # P H^T, (M, 8, 4)
    s = cov[:, :4, :4].copy()  # H P H^T + R
    idx = np.arange(4)
    s[:, idx, idx] += r
    gain = np.linalg.solve(s, np.transpose(ph, (0, 2, 1))).transpose(0, 2, 1)  # (M, 8, 4)
    innovation = z - proj_mean
    mean = mean + np.einsum("mij,mj->mi", gain, innovation)
    cov = cov - gain @ s @ np.transpose(gain, (0, 2, 1))
    return mean, cov
