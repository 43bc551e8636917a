"""Enhancement task: the curve network trained on full-resolution crops; PSNR/SSIM on pairs, brightness always."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import tf_keras as keras

from edge.metrics_tasks import mean_brightness, psnr, ssim
from edge.tasks.enhance_curves import apply_curve_maps

from ..image_io import read_rgb
from ..task_fit import TaskConfigError, batch_indices, input_spec
from .data import DarkenConfig, EnhanceSplit, darken
from .model import ITERATIONS, LossWeights, build_curve_net, enhancement_loss


@dataclass
class EnhanceConfig:
    width: int = 160  # model input (the reduced resolution the curve map is estimated at)
    height: int = 120
    scale: int = 2  # training crops are scale x the model input: the curves are applied at that resolution
    channels: int = 24
    weights: LossWeights | None = None  # None: LossWeights.supervised() with pairs, zero-reference weights without
    darken: DarkenConfig = field(default_factory=DarkenConfig)

    def validate(self) -> "EnhanceConfig":
        if self.width < 16 or self.height < 16 or self.width % 4 or self.height % 4:
            raise TaskConfigError(f"enhance input {self.width}x{self.height}: expected multiples of 4, at least 16")
        if not 1 <= self.scale <= 8:
            raise TaskConfigError(f"--train-scale {self.scale}: expected 1..8")
        return self


class _TrainModel(keras.Model):
    """Full-resolution crop in -> curve map out, resizing to the model input inside."""

    def __init__(self, net: keras.Model, width: int, height: int):
        super().__init__()
        self.net, self.size = net, (height, width)

    def call(self, full, training=False):
        import tensorflow as tf

        return self.net(tf.image.resize(full, self.size, method="area"), training=training)


class EnhanceTask:
    task = "enhance"

    def __init__(self, train: EnhanceSplit, val: EnhanceSplit, cfg: EnhanceConfig, batch_size: int, seed: int,
                 data: dict):
        self.train, self.val, self.cfg = train, val, cfg.validate()
        self.batch_size, self.seed, self.data = batch_size, seed, data
        self._val = None
        self.net = None

    def _pair(self, split: EnhanceSplit, i: int, rng: np.random.Generator, w: int, h: int, crop: bool):
        """(low, high or None) RGB uint8 at w x h (a random crop when ``crop``, else the whole image resized)."""
        low = read_rgb(split.low[i])
        high = read_rgb(split.high[i]) if split.mode == "paired" else None
        if split.mode == "paired" and high.shape != low.shape:
            raise TaskConfigError(f"{split.low[i]} is {low.shape[1]}x{low.shape[0]} but {split.high[i]} is "
                                  f"{high.shape[1]}x{high.shape[0]}; a pair must have one size")
        if split.mode == "darken":
            high, low = low, darken(low, rng, self.cfg.darken)
        if crop and low.shape[0] >= h and low.shape[1] >= w:
            y0, x0 = int(rng.integers(0, low.shape[0] - h + 1)), int(rng.integers(0, low.shape[1] - w + 1))
            cut = lambda a: None if a is None else a[y0:y0 + h, x0:x0 + w]  # noqa: E731
            return cut(low), cut(high)
        rs = lambda a: None if a is None else cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
        return rs(low), rs(high)

    def build(self):
        self.net = build_curve_net(self.cfg.width, self.cfg.height, self.cfg.channels)
        model = _TrainModel(self.net, self.cfg.width, self.cfg.height)
        model(np.zeros((1, self.cfg.height * self.cfg.scale, self.cfg.width * self.cfg.scale, 3), np.float32))
        return model

    def batches(self, epoch: int):
        rng = np.random.default_rng([self.seed, epoch, 17])
        w, h = self.cfg.width * self.cfg.scale, self.cfg.height * self.cfg.scale
        for idx in batch_indices(len(self.train.low), self.batch_size, self.seed, epoch):
            lows, highs, paired = [], [], []
            for i in idx:
                low, high = self._pair(self.train, int(i), rng, w, h, crop=True)
                if rng.random() < 0.5:
                    low, high = low[:, ::-1], (None if high is None else high[:, ::-1])
                lows.append(low.astype(np.float32) / 255.0)
                highs.append(np.zeros_like(lows[-1]) if high is None else high.astype(np.float32) / 255.0)
                paired.append(float(high is not None))
            x = np.stack(lows)
            yield x, {"low": x, "high": np.stack(highs), "paired": np.asarray(paired, np.float32)}

    def loss(self, t, curves, model):
        return enhancement_loss(t["low"], curves, t["high"], t["paired"], self.weights)

    @property
    def weights(self) -> LossWeights:
        if self.cfg.weights is not None:
            return self.cfg.weights
        return LossWeights.supervised() if self.train.mode in ("paired", "darken") else LossWeights()

    def evaluate(self, model) -> dict:
        if self._val is None:
            rng = np.random.default_rng([self.seed, 9999])
            w, h = self.cfg.width * self.cfg.scale, self.cfg.height * self.cfg.scale
            self._val = [self._pair(self.val, i, rng, w, h, crop=False) for i in range(len(self.val.low))]
        lows = np.stack([lo for lo, _ in self._val]).astype(np.float32) / 255.0
        curves = model.predict(lows, batch_size=8, verbose=0)
        res = {"psnr": [], "ssim": [], "psnr_in": [], "mean_in": [], "mean_out": []}
        for (low, high), x, a in zip(self._val, lows, curves):
            out = np.clip(apply_curve_maps(x, a, ITERATIONS), 0, 1)
            out8 = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
            res["mean_in"].append(mean_brightness(low))
            res["mean_out"].append(mean_brightness(out8))
            if high is not None:
                res["psnr"].append(psnr(out8, high))
                res["psnr_in"].append(psnr(low, high))
                res["ssim"].append(ssim(out8, high))
        return {k: float(np.mean(v)) for k, v in res.items() if v}

    def inference_model(self, model):
        return self.net

    def run_fields(self) -> dict:
        w, h = self.cfg.width, self.cfg.height
        return {"labels": [], "input": input_spec(w, h),
                "model": {"arch": "dce_lite", "channels": self.cfg.channels, "input_width": w, "input_height": h,
                          "train_scale": self.cfg.scale},
                "outputs": [{"name": "curves", "role": "curves", "shape": [1, h, w, 3]}],
                "decode": {"kind": "curves", "iterations": ITERATIONS, "formula": "x = x + a*x*(1-x)",
                           "upsample": "bilinear"},
                "data": self.data}
