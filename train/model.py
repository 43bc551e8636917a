"""The detector: MobileNetV2-style backbone, a small FPN neck and an anchor-free head at strides 8/16/32.

The head decodes its grid inside the model, so the single output ``detections`` is already
``[1, N, 4 + C]``: cx, cy, w, h normalised to 0..1 of the input, then C sigmoid class scores
(docs/contracts.md §2). Training and export use this same graph.

Only int8-friendly ops: Conv2D, DepthwiseConv2D, BatchNorm (folded at conversion), ReLU6, Add,
nearest UpSampling, Sigmoid, Mul/Add with constants, Reshape, Concatenate, Minimum/Maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import tensorflow as tf
import tf_keras as keras

STRIDES = (8, 16, 32)
MIN_INPUT, MAX_INPUT = 192, 640
# (expansion t, output channels c, repeats n, first stride s), as in MobileNetV2.
_MBV2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))


class ModelConfigError(ValueError):
    """A model option (input size, width, class count) is outside what the detector supports."""


@dataclass
class DetectorConfig:
    num_classes: int
    input_size: int = 256
    width: float = 0.35
    neck_channels: int = 64
    strides: tuple[int, ...] = STRIDES
    base_sizes: tuple[float, ...] = field(default=())  # filled in by validate(): box scale per level, pixels

    def validate(self, allow_small: bool = False) -> "DetectorConfig":
        lo = 32 if allow_small else MIN_INPUT
        if not isinstance(self.input_size, int) or self.input_size % 32 or not lo <= self.input_size <= MAX_INPUT:
            raise ModelConfigError(
                f"input size {self.input_size!r} is not supported; expected a multiple of 32 between "
                f"{MIN_INPUT} and {MAX_INPUT} (e.g. 192, 256, 320, 416, 512, 640)")
        if not 0.1 <= float(self.width) <= 1.5:
            raise ModelConfigError(f"width multiplier {self.width!r} is out of range; expected 0.1..1.5")
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ModelConfigError(f"number of classes {self.num_classes!r} must be a positive integer")
        if tuple(self.strides) != STRIDES:
            raise ModelConfigError(f"strides {self.strides!r} are fixed to {STRIDES}")
        if not self.base_sizes:
            bases = [4.0 * s for s in self.strides]
            bases[-1] = max(bases[-1], math.ceil(self.input_size / 3.0))  # the top level reaches the full image
            self.base_sizes = tuple(float(b) for b in bases)
        return self

    def num_anchors(self) -> int:
        return sum((self.input_size // s) ** 2 for s in self.strides)

    def to_json(self) -> dict:
        return {"arch": "mobiledet", "width_multiplier": float(self.width), "input_size": self.input_size,
                "neck_channels": self.neck_channels, "strides": list(self.strides),
                "base_sizes": list(self.base_sizes), "num_classes": self.num_classes,
                "box_decode": "cx=(gx+2*sigmoid(tx)-0.5)*stride/W, w=(2*sigmoid(tw))^2*base/W"}


def anchor_grid(config: DetectorConfig) -> dict[str, np.ndarray]:
    """Per output row: cell centre (x, y) in input pixels, stride and base size, in the model's row order."""
    cx, cy, stride, base = [], [], [], []
    for s, b in zip(config.strides, config.base_sizes):
        n = config.input_size // s
        gy, gx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cx.append(((gx.reshape(-1) + 0.5) * s).astype(np.float32))
        cy.append(((gy.reshape(-1) + 0.5) * s).astype(np.float32))
        stride.append(np.full(n * n, s, np.float32))
        base.append(np.full(n * n, b, np.float32))
    return {"cx": np.concatenate(cx), "cy": np.concatenate(cy), "stride": np.concatenate(stride),
            "base": np.concatenate(base)}


@keras.utils.register_keras_serializable(package="edgevision")
class GridDecode(keras.layers.Layer):
    """Raw head map [B, H, W, 4 + C] -> boxes and scores [B, H*W, 4 + C], all in 0..1 (float32)."""

    def __init__(self, stride: int, base_size: float, input_size: int, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.stride, self.base_size, self.input_size = int(stride), float(base_size), int(input_size)

    def call(self, raw):
        raw = tf.cast(raw, tf.float32)
        n = self.input_size // self.stride
        gy, gx = np.meshgrid(np.arange(n, dtype=np.float32), np.arange(n, dtype=np.float32), indexing="ij")
        grid = tf.constant(np.stack([gx, gy], -1).reshape(1, n * n, 2) - 0.5)
        act = tf.sigmoid(tf.reshape(raw, [-1, n * n, raw.shape[-1]]))
        xy = (grid + 2.0 * act[..., :2]) * (self.stride / self.input_size)
        w = 2.0 * act[..., 2:4]
        wh = w * w * (self.base_size / self.input_size)  # a Mul, not SQUARE: SQUARE has no int8 kernel
        boxes = tf.clip_by_value(tf.concat([xy, wh], -1), 0.0, 1.0)
        return tf.concat([boxes, act[..., 4:]], -1)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "base_size": self.base_size,
                "input_size": self.input_size}


def _divisible(v: float, d: int = 8) -> int:
    out = max(d, int(v + d / 2) // d * d)
    return out + d if out < 0.9 * v else out


def _conv_bn(x, filters, kernel, stride, name, act=True):
    x = keras.layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.9, name=f"{name}_BN")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x) if act else x


def _inverted_residual(x, expansion, filters, stride, block_id):
    """One MobileNetV2 block; layer names follow keras.applications.MobileNetV2 so its weights load."""
    in_ch = x.shape[-1]
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    h = x
    if block_id:
        h = keras.layers.Conv2D(in_ch * expansion, 1, use_bias=False, name=prefix + "expand")(h)
        h = keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.9, name=prefix + "expand_BN")(h)
        h = keras.layers.ReLU(6.0, name=prefix + "expand_relu")(h)
    h = keras.layers.DepthwiseConv2D(3, stride, padding="same", use_bias=False, name=prefix + "depthwise")(h)
    h = keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.9, name=prefix + "depthwise_BN")(h)
    h = keras.layers.ReLU(6.0, name=prefix + "depthwise_relu")(h)
    h = keras.layers.Conv2D(filters, 1, use_bias=False, name=prefix + "project")(h)
    h = keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.9, name=prefix + "project_BN")(h)
    if stride == 1 and in_ch == filters:
        h = keras.layers.Add(name=prefix + "add")([x, h])
    return h


def backbone(image, width: float):
    """MobileNetV2 features at strides 8, 16 and 32."""
    x = keras.layers.Conv2D(_divisible(32 * width), 3, 2, padding="same", use_bias=False, name="Conv1")(image)
    x = keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.9, name="bn_Conv1")(x)
    x = keras.layers.ReLU(6.0, name="Conv1_relu")(x)
    feats, stride, block_id = {}, 2, 0
    for t, c, n, s in _MBV2_BLOCKS:
        for i in range(n):
            x = _inverted_residual(x, t, _divisible(c * width), s if i == 0 else 1, block_id)
            block_id += 1
        stride *= s
        feats[stride] = x  # the last block at each stride wins
    return feats[8], feats[16], feats[32]


def _sep_conv(x, filters, name):
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_dw_BN")(x)
    x = keras.layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    return _conv_bn(x, filters, 1, 1, f"{name}_pw")


def build_detector(config: DetectorConfig, allow_small: bool = False) -> keras.Model:
    """Image [1, S, S, 3] (pixels scaled by run.json's mean/std, i.e. 0..1) -> ``detections`` [1, N, 4+C]."""
    config.validate(allow_small=allow_small)
    size, f = config.input_size, config.neck_channels
    image = keras.Input((size, size, 3), name="image")
    c3, c4, c5 = backbone(image, config.width)
    p5 = _conv_bn(c5, f, 1, 1, "neck_lat5")
    p4 = keras.layers.Add(name="neck_add4")([_conv_bn(c4, f, 1, 1, "neck_lat4"),
                                             keras.layers.UpSampling2D(2, name="neck_up5")(p5)])
    p4 = _sep_conv(p4, f, "neck_smooth4")
    p3 = keras.layers.Add(name="neck_add3")([_conv_bn(c3, f, 1, 1, "neck_lat3"),
                                             keras.layers.UpSampling2D(2, name="neck_up4")(p4)])
    p3 = _sep_conv(p3, f, "neck_smooth3")
    p4 = keras.layers.Add(name="neck_down3")([p4, _conv_bn(p3, f, 3, 2, "neck_down3_conv")])
    p5 = keras.layers.Add(name="neck_down4")([p5, _conv_bn(p4, f, 3, 2, "neck_down4_conv")])
    prior_bias = -math.log((1 - 0.01) / 0.01)
    bias = np.zeros(4 + config.num_classes, np.float32)
    bias[4:] = prior_bias
    levels = []
    for stride, base, p in zip(config.strides, config.base_sizes, (p3, p4, p5)):
        h = _sep_conv(p, f, f"head{stride}")
        raw = keras.layers.Conv2D(4 + config.num_classes, 1, name=f"head{stride}_out", dtype="float32",
                                  bias_initializer=keras.initializers.Constant(bias))(h)
        levels.append(GridDecode(stride, base, size, name=f"decode{stride}")(raw))
    out = keras.layers.Concatenate(axis=1, name="detections", dtype="float32")(levels)
    return keras.Model(image, out, name="mobiledet")
