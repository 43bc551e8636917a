"""MoveNet-like single-person pose model: shared backbone, a small feature pyramid down to stride 4, and two
heads: ``heatmaps`` [1, S/4, S/4, 17] (sigmoid, 0..1) and ``offsets`` [1, S/4, S/4, 34] (per joint k: dy at
channel 2k, dx at 2k+1, in heatmap cells from the cell centre; the layout edge/tasks/pose_decode.py reads).
"""

from __future__ import annotations

import math

import numpy as np
import tf_keras as keras

from ..model import _conv_bn, _sep_conv, backbone

STRIDE = 4


def build_pose_model(input_size: int, width: float = 0.35, channels: int = 48, num_keypoints: int = 17):
    image = keras.Input((input_size, input_size, 3), name="image")
    c3, c4, c5 = backbone(image, width)
    p5 = _conv_bn(c5, channels, 1, 1, "pose_lat5")
    p4 = keras.layers.Add(name="pose_add4")([_conv_bn(c4, channels, 1, 1, "pose_lat4"),
                                             keras.layers.UpSampling2D(2, name="pose_up5")(p5)])
    p4 = _sep_conv(p4, channels, "pose_smooth4")
    p3 = keras.layers.Add(name="pose_add3")([_conv_bn(c3, channels, 1, 1, "pose_lat3"),
                                             keras.layers.UpSampling2D(2, name="pose_up4")(p4)])
    p3 = _sep_conv(p3, channels, "pose_smooth3")
    p2 = keras.layers.UpSampling2D(2, interpolation="bilinear", name="pose_up3")(p3)
    p2 = _sep_conv(p2, channels, "pose_smooth2")
    hm = _sep_conv(p2, channels, "pose_hm")
    prior = -math.log((1 - 0.01) / 0.01)
    heatmaps = keras.layers.Conv2D(num_keypoints, 1, activation="sigmoid", name="heatmaps", dtype="float32",
                                   bias_initializer=keras.initializers.Constant(prior))(hm)
    off = _sep_conv(p2, channels, "pose_off")
    offsets = keras.layers.Conv2D(2 * num_keypoints, 1, name="offsets", dtype="float32")(off)
    return keras.Model(image, {"heatmaps": heatmaps, "offsets": offsets}, name="movenet_like")


def make_targets(kp: np.ndarray, input_size: int, sigma: float = 1.5):
    """Heatmap (h, w, K) gaussians peaking at 1 in each labelled joint's cell, offsets (h, w, 2K), and the
    masks: per-joint weight (K,) (0 for v = 0) and offset mask (h, w, 2K) (1 at each labelled joint's cell)."""
    n = input_size // STRIDE
    k = len(kp)
    hm = np.zeros((n, n, k), np.float32)
    off = np.zeros((n, n, 2 * k), np.float32)
    off_mask = np.zeros((n, n, 2 * k), np.float32)
    weight = np.zeros(k, np.float32)
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)
    for j, (x, y, v) in enumerate(kp):
        if v <= 0:
            continue
        gx, gy = x / STRIDE - 0.5, y / STRIDE - 0.5  # in cell-centre coordinates
        col, row = int(np.clip(np.floor(x / STRIDE), 0, n - 1)), int(np.clip(np.floor(y / STRIDE), 0, n - 1))
        g = np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * sigma * sigma))
        g[row, col] = 1.0
        hm[..., j] = g
        off[row, col, 2 * j], off[row, col, 2 * j + 1] = gy - row, gx - col
        off_mask[row, col, 2 * j: 2 * j + 2] = 1.0
        weight[j] = 1.0
    return hm, off, off_mask, weight
