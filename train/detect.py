"""Detection as a task of the one training loop (train/task_fit.py::fit): the detector, its tf.data pipeline,
its loss, its optimizer (AdamW, warmup then cosine), its validation mAP and its run.json fields.

``train_detector(TrainConfig, LoadedData)`` is the Python entry point (tests, tools): it builds the spec and
calls ``fit``. ``python -m train detect`` reaches the same spec through train/detect_entry.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from .datasets import LoadedData
from .distribute import is_chief_process
from .evaluate import evaluate
from .loss import LossConfig, detection_loss
from .model import DetectorConfig, build_detector
from .pipeline import AugmentConfig, make_dataset
from .run_folder import read_run_json
from .task_fit import FitConfig, TaskConfigError, fit, input_spec

# One error type for every training option: what fit raises (--out, --resume) and what detection checks.
TrainConfigError = TaskConfigError


@dataclass
class TrainConfig:
    out: Path
    epochs: int = 16
    batch: int = 16
    input_size: int = 192
    width: float = 0.35
    lr: float = 8e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    seed: int = 0
    resume: bool = False
    weights: str | None = None
    allow_small_input: bool = False  # tests only: inputs below 192
    show_progress: bool = True  # a bar on a terminal (train/epochs.py::Progress); one line per epoch always
    patience: int = 0  # stop after this many epochs without a better val mAP@0.5 (0: never)
    freeze_epochs: int = 0  # with --weights: train only the neck and head for this many epochs first
    strategy: str = "auto"  # train/distribute.py: auto, default, mirrored or multiworker
    precision: str = "auto"  # train/task_fit.py::FitConfig.precision: auto (mixed on a GPU), float32 or mixed
    ema: float = 0.0  # train/task_fit.py::FitConfig.ema: weight-average decay, 0 = off
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)


def detection_fields(labels, model_json: dict, num_anchors: int, data: dict) -> dict:
    """run.json's labels, input, model, outputs, decode and data of a detector (docs/contracts.md §1);
    ``model_json`` is DetectorConfig.to_json()."""
    size, labels = int(model_json["input_size"]), list(labels)
    return {"labels": labels, "input": input_spec(size, size), "model": model_json,
            "outputs": [{"name": "detections", "role": "raw_boxes_scores",
                         "shape": [1, num_anchors, 4 + len(labels)]}],
            "decode": {"kind": "raw_boxes_scores", "layout": "anchors_first", "box_format": "cxcywh",
                       "box_units": "normalized", "score_activation": "none"},
            "data": data}


class DetectionTask:
    """train/task_fit.py::TaskSpec of the detector. ``batch`` is the global batch (split over the replicas);
    an epoch is ``len(train) // batch`` steps of train/pipeline.py's augmented, reshuffled dataset."""

    task = "detect"

    def __init__(self, data: LoadedData, model: DetectorConfig, batch: int, seed: int = 0,
                 augment: AugmentConfig | None = None, loss: LossConfig | None = None, weight_decay: float = 1e-4,
                 warmup_epochs: float = 0.5, allow_small: bool = False):
        model.validate(allow_small=allow_small)
        if int(batch) < 1:
            raise TrainConfigError(f"--batch {batch}: expected at least 1")
        self.steps_per_epoch = len(data.train.records) // int(batch)
        if self.steps_per_epoch < 1:
            raise TrainConfigError(f"--batch {batch} is larger than the {len(data.train.records)} training images")
        self.data, self.model_cfg, self.batch, self.seed = data, model, int(batch), int(seed)
        self.augment, self.loss_cfg = augment or AugmentConfig(), loss or LossConfig()
        self.weight_decay, self.warmup_epochs, self.allow_small = float(weight_decay), float(warmup_epochs), allow_small
        self._train = None  # made on first use: multi-worker training must start before TensorFlow runs anything

    def build(self) -> keras.Model:
        return build_detector(self.model_cfg, allow_small=self.allow_small)

    def optimizer(self, cfg: FitConfig):
        """AdamW, warming up from 5 % of the rate for ``warmup_epochs``, then a cosine decay to 2 % of it."""
        steps, lr = self.steps_per_epoch, float(cfg.learning_rate)
        warmup = int(steps * self.warmup_epochs)
        schedule = keras.optimizers.schedules.CosineDecay(
            lr * 0.05, decay_steps=max(1, steps * cfg.epochs - warmup), alpha=0.02, warmup_target=lr,
            warmup_steps=warmup)
        return keras.optimizers.AdamW(schedule, weight_decay=self.weight_decay, global_clipnorm=10.0)

    def batches(self, epoch: int) -> tf.data.Dataset:
        """The same dataset every epoch (it reshuffles each time it is iterated); fit takes steps_per_epoch."""
        if self._train is None:
            self._train = make_dataset(self.data.train.records, self.model_cfg, self.batch, True, self.augment,
                                       self.seed)
        return self._train

    def loss(self, targets, outputs, model) -> dict:
        total, cls_loss, box_loss = detection_loss(outputs, targets, self.model_cfg.num_classes, self.loss_cfg)
        return {"loss": total, "cls_loss": cls_loss, "box_loss": box_loss}

    def evaluate(self, model) -> dict:
        result = evaluate(model, self.data.val.records, self.model_cfg.input_size)
        return {"map50": round(result.map50, 4), "map50_95": round(result.map50_95, 4)}

    def inference_model(self, model) -> keras.Model:
        return model

    def run_fields(self) -> dict:
        fields = detection_fields(self.data.labels, self.model_cfg.to_json(), self.model_cfg.num_anchors(),
                                  self.data.info)
        fields["augment"] = asdict(self.augment)  # what the training images went through (flips, crops, colour)
        return fields


def detection_spec(cfg: TrainConfig, data: LoadedData) -> DetectionTask:
    model = DetectorConfig(num_classes=len(data.labels), input_size=cfg.input_size, width=cfg.width)
    return DetectionTask(data, model, cfg.batch, cfg.seed, cfg.augment, cfg.loss, cfg.weight_decay,
                         cfg.warmup_epochs, cfg.allow_small_input)


def fit_config(cfg: TrainConfig) -> FitConfig:
    return FitConfig(out=cfg.out, epochs=cfg.epochs, batch_size=cfg.batch, learning_rate=cfg.lr, resume=cfg.resume,
                     seed=cfg.seed, strategy=cfg.strategy, patience=cfg.patience, weights=cfg.weights,
                     freeze_epochs=cfg.freeze_epochs, show_progress=cfg.show_progress, width=cfg.width,
                     precision=cfg.precision, ema=cfg.ema)


def train_detector(cfg: TrainConfig, data: LoadedData) -> dict:
    """Train (or resume) into ``cfg.out`` with train/task_fit.py::fit; returns the final run.json dict
    (an empty dict on the non-chief workers of a multi-worker run, which write no run folder)."""
    fit(detection_spec(cfg, data), fit_config(cfg))
    return read_run_json(cfg.out) if is_chief_process(cfg.strategy) else {}
