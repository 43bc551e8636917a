"""Pose task: crops of each person (top-down), focal heatmap loss + L1 offsets, OKS AP and PCK@0.2 per epoch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from edge.metrics_tasks import PoseGroundTruth, oks_ap, pck
from edge.tasks.pose_decode import decode_heatmaps_offsets

from ..image_io import read_rgb
from ..task_fit import TaskConfigError, batch_indices, input_spec
from .data import KEYPOINT_NAMES, SKELETON, PoseImage, crop_person, crop_to_image
from .model import STRIDE, build_pose_model, make_targets


@dataclass
class PoseConfig:
    input_size: int = 128
    width: float = 0.35
    augment: bool = True

    def validate(self) -> "PoseConfig":
        if self.input_size % 32 or not 64 <= self.input_size <= 512:
            raise TaskConfigError(f"--input-size {self.input_size}: expected a multiple of 32 in 64..512")
        return self


def focal_heatmap_loss(target, pred, weight):
    """CenterNet's penalty-reduced focal loss over heatmaps, joints with weight 0 left out."""
    pred = tf.clip_by_value(pred, 1e-4, 1 - 1e-4)
    pos = tf.cast(target >= 1.0, tf.float32)
    w = weight[:, None, None, :]
    pos_loss = -tf.math.log(pred) * tf.square(1 - pred) * pos * w
    neg_loss = -tf.math.log(1 - pred) * tf.square(pred) * tf.pow(1 - target, 4) * (1 - pos) * w
    return (tf.reduce_sum(pos_loss) + tf.reduce_sum(neg_loss)) / tf.maximum(tf.reduce_sum(pos), 1.0)


class PoseTask:
    task = "pose"

    def __init__(self, train: list[PoseImage], val: list[PoseImage], cfg: PoseConfig, batch_size: int, seed: int,
                 data: dict):
        self.cfg = cfg.validate()
        self.train = [(im, p) for im in train for p in im.people]
        self.val = [(im, p) for im in val for p in im.people if (p.keypoints[:, 2] > 0).any()]
        if not self.train or not self.val:
            raise TaskConfigError(f"pose: {len(self.train)} training and {len(self.val)} validation people; "
                                  "expected at least one of each")
        self.batch_size, self.seed, self.data = batch_size, seed, data
        self._val = None
        self._images: dict = {}

    def _rgb(self, path):
        if path not in self._images:
            if len(self._images) > 2048:
                self._images.clear()
            self._images[path] = read_rgb(path)
        return self._images[path]

    def build(self):
        return build_pose_model(self.cfg.input_size, self.cfg.width)

    def batches(self, epoch: int):
        rng = np.random.default_rng([self.seed, epoch, 13])
        s = self.cfg.input_size
        for idx in batch_indices(len(self.train), self.batch_size, self.seed, epoch):
            xs, hms, offs, masks, ws = [], [], [], [], []
            for i in idx:
                im, person = self.train[i]
                crop, kp, _ = crop_person(self._rgb(im.image), person, s,
                                          flip=self.cfg.augment and rng.random() < 0.5)
                hm, off, mask, w = make_targets(kp, s)
                xs.append(crop.astype(np.float32) / 255.0)
                hms.append(hm), offs.append(off), masks.append(mask), ws.append(w)
            yield np.stack(xs), {"heatmaps": np.stack(hms), "offsets": np.stack(offs),
                                 "offset_mask": np.stack(masks), "weight": np.stack(ws)}

    def loss(self, t, out, model):
        hm = focal_heatmap_loss(t["heatmaps"], out["heatmaps"], t["weight"])
        off = tf.reduce_sum(tf.abs(out["offsets"] - t["offsets"]) * t["offset_mask"]) / \
            tf.maximum(tf.reduce_sum(t["offset_mask"]), 1.0)
        return {"loss": hm + off, "heatmap_loss": hm, "offset_loss": off}

    def evaluate(self, model) -> dict:
        s = self.cfg.input_size
        if self._val is None:
            crops, ms = [], []
            for im, person in self.val:
                crop, _, m = crop_person(self._rgb(im.image), person, s)
                crops.append(crop.astype(np.float32) / 255.0)
                ms.append(m)
            self._val = (np.stack(crops), ms)
        x, ms = self._val
        out = model.predict(x, batch_size=32, verbose=0)
        gts, preds, ap_gt, ap_pred = [], [], [], []
        for i, ((im, person), m) in enumerate(zip(self.val, ms)):
            kp = decode_heatmaps_offsets(out["heatmaps"][i:i + 1], out["offsets"][i:i + 1], (s, s))
            kp[:, :2] = crop_to_image(kp[:, :2].astype(np.float64), m)
            gt = PoseGroundTruth(person.keypoints, person.area, person.box)
            gts.append(gt)
            preds.append(kp)
            ap_gt.append([gt])
            ap_pred.append([(kp, float(kp[:, 2].mean()))])
        return {"pck": pck(gts, preds, 0.2, "torso").pck, **oks_ap(ap_gt, ap_pred).as_dict()}

    def inference_model(self, model):
        return model

    def run_fields(self) -> dict:
        s, n = self.cfg.input_size, self.cfg.input_size // STRIDE
        return {"labels": list(KEYPOINT_NAMES), "input": input_spec(s, s),
                "model": {"arch": "movenet_like", "width_multiplier": self.cfg.width, "input_size": s,
                          "stride": STRIDE, "num_keypoints": len(KEYPOINT_NAMES)},
                "outputs": [{"name": "heatmaps", "role": "heatmaps", "shape": [1, n, n, len(KEYPOINT_NAMES)]},
                            {"name": "offsets", "role": "offsets", "shape": [1, n, n, 2 * len(KEYPOINT_NAMES)]}],
                "decode": {"kind": "heatmaps_offsets", "heatmap_activation": "none", "num_keypoints": len(KEYPOINT_NAMES),
                           "offset_layout": "dy_dx_cells", "skeleton": [list(p) for p in SKELETON],
                           "multi_person": "topdown", "crop_scale": 1.25},
                "data": self.data}
