"""A tiny but real run folder: drawn shapes in COCO format and train's own detector at 64x64."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

LABELS = ["square", "disc"]
SIZE = 64


def _draw(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list]:
    """A noisy background with 1-2 shapes; returns the RGB image and COCO annotations (x, y, w, h, class)."""
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    img[0, 0] = 0
    img[-1, -1] = 255  # the full 0..255 range appears in every image
    anns = []
    for _ in range(int(rng.integers(1, 3))):
        cls = int(rng.integers(0, 2))
        w = int(rng.integers(size // 5, size // 2))
        x, y = (int(v) for v in rng.integers(0, size - w, 2))
        color = tuple(int(c) for c in rng.integers(120, 256, 3))
        if cls == 0:
            cv2.rectangle(img, (x, y), (x + w - 1, y + w - 1), color, -1)
        else:
            cv2.circle(img, (x + w // 2, y + w // 2), w // 2, color, -1)
        anns.append((x, y, w, w, cls))
    return img, anns


def write_coco(folder: Path, split: str, count: int, seed: int, size: int = SIZE) -> Path:
    rng = np.random.default_rng(seed)
    (folder / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(count):
        img, anns = _draw(rng, size)
        name = f"{split}/{i:04d}.png"
        cv2.imwrite(str(folder / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
        for x, y, w, h, cls in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": cls + 1,
                                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
    coco = {"images": images, "annotations": annotations,
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(LABELS)]}
    path = folder / f"{split}.json"
    path.write_text(json.dumps(coco))
    return path


def make_run(folder: Path, data: Path, seed: int = 0) -> Path:
    """Write a run folder with an untrained tiny detector built by train's own builder."""
    import tf_keras as keras
    from train.model import DetectorConfig, build_detector
    from train.detect import detection_fields
    from train.run_folder import build_run_json

    keras.utils.set_random_seed(seed)
    config = DetectorConfig(num_classes=len(LABELS), input_size=SIZE, width=0.35, neck_channels=16)
    model = build_detector(config, allow_small=True)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(str(folder / "model.keras"))
    run = build_run_json(name=folder.name, task="detect", fields=detection_fields(
        LABELS, config.to_json(), config.num_anchors(),
        {"format": "coco", "root": str(data), "train": str(data / "train.json"), "val": str(data / "val.json")}))
    (folder / "run.json").write_text(json.dumps(run, indent=2))
    return folder


def small_head_model(size: int = 32, classes: int = 2):
    """A few-layer model with the detection head contract (docs/contracts.md section 2), fast to convert:
    image [1, S, S, 3] -> ``detections`` [1, N, 4 + C], everything in 0..1 through a sigmoid."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    image = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(image)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(4 + classes, 1)(x)
    x = keras.layers.Reshape(((size // 4) ** 2, 4 + classes))(x)
    return keras.Model(image, keras.layers.Activation("sigmoid", name="detections")(x))


@pytest.fixture(scope="session")
def head_model_factory():
    return small_head_model


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("data")
    write_coco(data, "train", 24, seed=1)
    write_coco(data, "val", 8, seed=2)
    return data


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data) -> Path:
    return make_run(tmp_path_factory.mktemp("runs") / "tiny", tiny_data)


@pytest.fixture(scope="session")
def exported_task_runs(trained_task_runs, tmp_path_factory) -> dict:
    """task -> (run folder, export report): each tiny task run (tests/conftest.py) exported once to float32 and
    int8 and through its optimisation mode (task_cases.OPTIMIZE, a few fine-tune steps), scored through edge. The
    files go to a folder of their own (report.out_dir), not the run's export/, which the tests of
    train_tasks/test_tiny_training.py export into."""
    from export.formats import parse_formats
    from export.optimize import OptimizeOptions
    from export.optimize.common import FineTune
    from export.pipeline import ExportOptions, export_run

    from .task_cases import OPTIMIZE

    done = {}
    for task, out in trained_task_runs.items():
        tune = FineTune(steps=6, batch_size=4, learning_rate=1e-3)
        options = ExportOptions(formats=parse_formats("float32,int8"), calib_samples=10, parity_images=4, threads=1,
                                latency_runs=3, out_dir=tmp_path_factory.mktemp(f"export_{task}"),
                                optimize=[OPTIMIZE[task]],
                                optimize_options=OptimizeOptions(tune=tune, frequency=1, prune_ramp=0.5))
        done[task] = (out, export_run(out, options, log=lambda *_: None))
    return done
