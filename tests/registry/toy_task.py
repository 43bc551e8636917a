"""A task that exists only here: "level", the mean brightness of a frame, learnt by a one-layer network.

Everything the project needs to train, export, report and run it on the device is in this file: the host's
registry entry (``TASK``: options, training spec, export data, scorer, metrics) and the device's adapter
(``ADAPTER``: decode, JSON, overlay). tests/registry/test_toy_task.py registers both and drives the real CLIs;
no other module of the project knows this task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from train.tasks import HostTask, Metric, TaskData, read_bgr

TOLERANCE = 0.05  # a prediction within this of the true mean brightness (0..1) counts as right


def true_level(frame_bgr: np.ndarray) -> float:
    return float(frame_bgr.astype(np.float64).mean() / 255.0)


def write_dataset(root: Path, train: int = 48, val: int = 12, size: int = 24, seed: int = 0) -> Path:
    """Flat-coloured noisy images in ROOT/train and ROOT/val; their label is their own mean brightness."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            base = rng.uniform(20, 235, size=3)
            img = np.clip(base + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)
            cv2.imwrite(str(folder / f"{i:03d}.png"), img)
    return root


# ---------------------------------------------------------------- host: training


class LevelTask:
    """train/task_fit.py's TaskSpec: one Dense layer on the pooled image predicts its mean brightness."""

    task = "level"

    def __init__(self, root: Path, size: int, batch_size: int, seed: int):
        self.root, self.size, self.batch_size, self.seed = Path(root), size, batch_size, seed
        self.train = sorted((self.root / "train").glob("*.png"))
        self.val = sorted((self.root / "val").glob("*.png"))

    def _load(self, paths) -> tuple[np.ndarray, np.ndarray]:
        frames = [read_bgr(p) for p in paths]
        x = np.stack([cv2.resize(f, (self.size, self.size))[..., ::-1] for f in frames]).astype(np.float32) / 255.0
        return x, np.array([[true_level(f)] for f in frames], np.float32)

    def build(self):
        import tf_keras as keras

        image = keras.Input((self.size, self.size, 3), name="image")
        pooled = keras.layers.GlobalAveragePooling2D(name="pool")(image)
        level = keras.layers.Dense(1, name="level", dtype="float32")(pooled)  # the one layer with weights
        return keras.Model(image, level, name="level")

    def batches(self, epoch: int):
        from train.task_fit import batch_indices

        for idx in batch_indices(len(self.train), self.batch_size, self.seed, epoch):
            yield self._load([self.train[i] for i in idx])

    def loss(self, targets, outputs, model):
        import tensorflow as tf

        return {"loss": tf.reduce_mean(tf.square(outputs - targets))}

    def evaluate(self, model) -> dict:
        x, y = self._load(self.val)
        return level_metrics(model.predict(x, verbose=0)[:, 0], y[:, 0])

    def inference_model(self, model):
        return model

    def run_fields(self) -> dict:
        from train.task_fit import input_spec

        root = self.root.resolve()
        return {"labels": [], "input": input_spec(self.size, self.size), "model": {"arch": "level"},
                "outputs": [{"name": "level", "role": "level", "shape": [1, 1]}], "decode": {"kind": "level"},
                "data": {"format": "level_folders", "root": str(root), "train": str(root / "train"),
                         "val": str(root / "val")}}


def level_metrics(predicted, truth) -> dict:
    err = np.abs(np.asarray(predicted, np.float64) - np.asarray(truth, np.float64))
    return {"within": float(np.mean(err <= TOLERANCE)), "mae": float(err.mean())}


def add_parser(sub, common):
    p = sub.add_parser("level", help="train the toy brightness regressor (tests only)")
    p.add_argument("--data", type=Path, required=True, help="ROOT with ROOT/train/*.png and ROOT/val/*.png")
    common(p, epochs=4, batch=8, size=32, lr=0.05)
    return p


def trainer(args) -> LevelTask:
    return LevelTask(args.data, args.input_size, args.batch, args.seed)


# ---------------------------------------------------------------- host: export data and scoring


def load(run) -> TaskData:
    root = Path(run.spec["data"]["root"])
    return TaskData(sorted((root / "train").glob("*.png")), sorted((root / "val").glob("*.png")), read_bgr,
                    run.spec["data"]["train"])


def score(engine, adapter, data: TaskData, items: list) -> dict:
    predicted, truth = [], []
    for path in items:
        frame = data.frame(path)
        result, _ = engine.run_frame(frame, adapter, {})
        predicted.append(result.value)
        truth.append(true_level(frame))
    return level_metrics(predicted, truth)


TASK = HostTask("level", (Metric("within", f"within {TOLERANCE}"), Metric("mae", "MAE", ranked=False)),
                load, score, labelled=False, add_parser=add_parser, trainer=trainer)


# ---------------------------------------------------------------- device: the edge adapter


@dataclass(frozen=True)
class Level:
    value: float  # mean brightness, 0..1


def decode(outputs: dict, info, transform=None, options: dict | None = None) -> Level:
    (raw,) = outputs.values()
    return Level(float(np.asarray(raw, np.float32).reshape(-1)[0]))


class LevelAdapter:
    task = "level"

    def decode(self, outputs, info, frame_size, options) -> Level:
        return decode(outputs, info, options.get("transform"), options)

    def to_json(self, result: Level) -> dict:
        return {"level": round(result.value, 4)}

    def render(self, frame_bgr: np.ndarray, result: Level, options: dict | None = None) -> np.ndarray:
        out = frame_bgr.copy()
        cv2.putText(out, f"level {result.value:.2f}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        return out


ADAPTER = LevelAdapter()
