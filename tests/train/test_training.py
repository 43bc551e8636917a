"""A tiny real training run: run folder per docs/contracts.md §1, resume continues, CLI errors.

One real run (64 px input, 16 images, two steps per epoch) is shared by the checks below; the resume test
continues a copy of it, so the train step is traced twice in the whole module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from train.datasets import load_detection_data
from train.detect import TrainConfig, TrainConfigError, train_detector
from train.model import DetectorConfig, build_detector
from train.saved_model import load_model
from train.run_folder import read_run_json
from train.synth import LABELS, SynthConfig, generate

SIZE = 64
BATCH = 8
TRAIN_IMAGES = 16


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(root, train=TRAIN_IMAGES, val=4, size=SIZE, seed=0))
    return load_detection_data(root, "coco")


def _cfg(out, **kw):
    return TrainConfig(out=out, epochs=kw.pop("epochs", 1), batch=BATCH, input_size=SIZE, width=0.35,
                       allow_small_input=True, show_progress=False, **kw)


@pytest.fixture(scope="module")
def one_epoch(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    run = train_detector(_cfg(out), tiny_data)
    return out, run


def _history(out) -> list[dict]:
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


def _head_kernel(checkpoint: str) -> np.ndarray:
    """The stride-8 output kernel stored in a run checkpoint, read back through a fresh model."""
    probe = build_detector(DetectorConfig(len(LABELS), SIZE, 0.35), allow_small=True)
    tf.train.Checkpoint(model=probe).restore(checkpoint).expect_partial()
    return probe.get_layer("head8_out").get_weights()[0]


def _optimizer_steps(checkpoint: str) -> int:
    return int(tf.train.load_variable(checkpoint, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"))


def test_run_folder_follows_the_contract(one_epoch, tiny_data):
    out, run = one_epoch
    assert {p.name for p in out.iterdir()} >= {"run.json", "model.keras", "checkpoints", "history.jsonl"}
    stored = read_run_json(out)
    assert stored == json.loads((out / "run.json").read_text()) == run
    n = (SIZE // 8) ** 2 + (SIZE // 16) ** 2 + (SIZE // 32) ** 2
    assert stored["format"] == "edgevision-run" and stored["version"] == 1
    assert stored["name"] == "tiny" and stored["task"] == "detect" and stored["created"].endswith("Z")
    assert stored["labels"] == list(LABELS)
    assert stored["input"] == {"width": SIZE, "height": SIZE, "channels": 3, "color": "RGB", "resize": "stretch",
                               "mean": [0.0, 0.0, 0.0], "std": [255.0, 255.0, 255.0]}
    assert stored["model"]["arch"] == "mobiledet" and stored["model"]["strides"] == [8, 16, 32]
    assert stored["model"]["width_multiplier"] == 0.35 and stored["model"]["input_size"] == SIZE
    assert stored["outputs"] == [{"name": "detections", "role": "raw_boxes_scores", "shape": [1, n, 4 + len(LABELS)]}]
    assert stored["decode"] == {"kind": "raw_boxes_scores", "layout": "anchors_first", "box_format": "cxcywh",
                                "box_units": "normalized", "score_activation": "none"}
    assert stored["data"]["format"] == "coco" and stored["data"]["train"].endswith("train.json")
    assert stored["augment"] == {"flip": 0.5, "vflip": 0.0, "crop": 0.5, "crop_min": 0.55, "colour": True}
    assert set(stored["metrics"]) == {"map50", "map50_95"}
    assert 0.0 <= stored["metrics"]["map50_95"] <= stored["metrics"]["map50"] <= 1.0
    rows = _history(out)
    assert [r["epoch"] for r in rows] == [1] and np.isfinite(rows[0]["loss"]) and rows[0]["box_loss"] > 0
    assert list(rows[0]) == ["epoch", "loss", "cls_loss", "box_loss", "val_map50", "val_map50_95", "train_seconds",
                             "seconds"]
    assert rows[0]["val_map50"] == stored["metrics"]["map50"]


def test_saved_model_is_the_inference_graph_with_the_checkpoint_weights(one_epoch):
    out, _ = one_epoch
    model = load_model(str(out / "model.keras"))
    assert model.output_names == ["detections"] and model.input_shape == (None, SIZE, SIZE, 3)
    y = model(np.random.default_rng(0).uniform(0, 1, (1, SIZE, SIZE, 3)).astype(np.float32)).numpy()
    assert y.shape[-1] == 4 + len(LABELS) and y.min() >= 0 and y.max() <= 1
    ckpt = tf.train.latest_checkpoint(str(out / "checkpoints"))
    np.testing.assert_array_equal(_head_kernel(ckpt), model.get_layer("head8_out").get_weights()[0])


def test_resume_continues_from_the_next_epoch_with_the_saved_weights(one_epoch, tiny_data, tmp_path):
    out = tmp_path / "tiny"
    shutil.copytree(one_epoch[0], out)  # as if the run had been stopped after epoch 1
    first = tf.train.latest_checkpoint(str(out / "checkpoints"))
    steps = TRAIN_IMAGES // BATCH
    assert _optimizer_steps(first) == steps

    with pytest.raises(TrainConfigError, match="already holds a run; pass --resume"):
        train_detector(_cfg(out, epochs=2), tiny_data)
    with pytest.raises(TrainConfigError, match=r"input_size: run has 64, asked 96"):
        train_detector(TrainConfig(out=out, epochs=2, batch=BATCH, input_size=96, allow_small_input=True,
                                   show_progress=False, resume=True), tiny_data)
    # lr 0: epoch 2 runs real steps but cannot move a weight, so ckpt-2 holds exactly what resume restored
    train_detector(_cfg(out, epochs=2, resume=True, lr=0.0), tiny_data)
    assert [r["epoch"] for r in _history(out)] == [1, 2]  # epoch 1 was not trained again
    second = tf.train.latest_checkpoint(str(out / "checkpoints"))
    assert second.endswith("ckpt-2")
    assert _optimizer_steps(second) == 2 * steps  # the optimizer state came back too
    kernel = _head_kernel(second)
    np.testing.assert_array_equal(kernel, _head_kernel(first))
    np.testing.assert_array_equal(kernel, load_model(str(out / "model.keras")).get_layer("head8_out").get_weights()[0])
    # resuming a finished run trains nothing more and keeps its metrics
    before = read_run_json(out)["metrics"]
    train_detector(_cfg(out, epochs=2, resume=True), tiny_data)
    assert len(_history(out)) == 2 and read_run_json(out)["metrics"] == before


def test_resume_without_checkpoint_is_an_error(tiny_data, tmp_path):
    with pytest.raises(TrainConfigError, match="holds no checkpoint"):
        train_detector(_cfg(tmp_path / "nothing", resume=True), tiny_data)


def test_batch_larger_than_the_training_set_is_an_error(tiny_data, tmp_path):
    with pytest.raises(TrainConfigError, match=f"--batch 32 is larger than the {TRAIN_IMAGES} training images"):
        train_detector(TrainConfig(out=tmp_path / "r", batch=32, input_size=SIZE, allow_small_input=True,
                                   show_progress=False), tiny_data)


def test_cli_reports_bad_input_size_and_bad_data(tmp_path, repo):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "train", *args], capture_output=True, text=True, cwd=repo)

    r = run("detect", "--data", str(tmp_path), "--format", "coco", "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "train.json: missing" in r.stderr
    generate(SynthConfig(tmp_path / "d", train=4, val=2, size=64, seed=0))
    r = run("detect", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "r"), "--input-size", "200")
    assert r.returncode == 2 and "--input-size 200: expected a multiple of 32" in r.stderr
