"""One training loop for every task (train/task_fit.py::fit, issue #11): mixed precision forced on this CPU host
trains detection and classification and saves a float32 model.keras; the layers' regularisation losses count;
a --resume that changes the model or the precision is refused for any task, naming the fields."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from train.run_folder import RunPaths, read_history, read_run_json
from train.saved_model import load_model
from train.task_fit import FitConfig, TaskConfigError, check_resume_fields, fit, input_spec

DATA = {"format": "class_folders", "root": "", "train": "", "val": ""}


def _assert_float32_model(out):
    model = load_model(str(out / "model.keras"))
    assert {w.dtype.name for w in model.weights} == {"float32"}
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    return model


def _assert_loss_scaled(out):
    """The checkpoint holds a LossScaleOptimizer's loss scale: the run really trained under mixed precision."""
    names = [name for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(str(out / "checkpoints")))]
    assert any("loss_scale" in name for name in names), names


def test_detection_under_forced_mixed_precision_saves_float32(tmp_path):
    from train.datasets import load_detection_data
    from train.detect import TrainConfig, train_detector
    from train.synth import SynthConfig, generate

    generate(SynthConfig(tmp_path / "data", train=8, val=2, size=64, seed=0))
    out = tmp_path / "run"
    run = train_detector(TrainConfig(out=out, epochs=1, batch=8, input_size=64, allow_small_input=True,
                                     show_progress=False, precision="mixed"),
                         load_detection_data(tmp_path / "data", "coco"))
    assert keras.mixed_precision.global_policy().name == "float32"  # put back after the run
    (row,) = read_history(RunPaths(out))
    assert all(np.isfinite(row[k]) for k in ("loss", "cls_loss", "box_loss"))
    assert set(run["metrics"]) == {"map50", "map50_95"}
    _assert_loss_scaled(out)
    model = _assert_float32_model(out)
    y = model(np.zeros((1, 64, 64, 3), np.float32))
    assert y.dtype == tf.float32 and y.shape[-1] == 4 + len(run["labels"])


def test_classification_under_forced_mixed_precision_saves_float32(tmp_path):
    from train.classify.data import generate_synthetic, read_dataset
    from train.classify.task import ClassifyConfig, ClassifyTask

    generate_synthetic(tmp_path / "data", train=10, val=5, size=32, seed=1)
    train, val = read_dataset(tmp_path / "data")
    task = ClassifyTask(train, val, ClassifyConfig(32, 0.35, head_channels=16), batch_size=5, seed=0, data=DATA)
    out = tmp_path / "run"
    result = fit(task, FitConfig(out=out, epochs=1, batch_size=5, precision="mixed", show_progress=False))
    assert keras.mixed_precision.global_policy().name == "float32"
    assert np.isfinite(result.history[0]["loss"]) and "top1" in result.metrics
    _assert_loss_scaled(out)
    model = _assert_float32_model(out)
    assert model(np.zeros((1, 32, 32, 3), np.float32)).dtype == tf.float32
    assert read_run_json(out)["precision"] == "mixed_float16"
    # a float32 resume would drop the loss-scale optimizer's state: refused, naming the option that continues it
    with pytest.raises(TaskConfigError, match=r"trained in mixed_float16, this one would train in float32; "
                                              r"pass --precision mixed"):
        fit(task, FitConfig(out=out, epochs=2, batch_size=5, resume=True, precision="float32", show_progress=False))
    # the resume check is the loop's, so classification has it too: another input size is refused by field
    bigger = ClassifyTask(train, val, ClassifyConfig(64, 0.35, head_channels=16), batch_size=5, seed=0, data=DATA)
    with pytest.raises(TaskConfigError, match=r"input\.width: run has 32, asked 64; input\.height: run has 32, "
                                              r"asked 64; model\.input_size: run has 32, asked 64\)"):
        fit(bigger, FitConfig(out=out, epochs=2, batch_size=5, resume=True, show_progress=False))


def test_every_training_command_takes_precision(tmp_path, capsys):
    from train.cli import _parser
    from train.task_cli import _fit_config, fit_tasks

    assert set(fit_tasks()) >= {"detect", "classify", "segment", "pose", "enhance"}
    for task in fit_tasks():
        args = _parser().parse_args([task, "--out", str(tmp_path / task), "--precision", "mixed"])
        assert _fit_config(args).precision == "mixed", task
        assert _fit_config(_parser().parse_args([task, "--out", str(tmp_path)])).precision == "auto", task
    with pytest.raises(SystemExit):
        _parser().parse_args(["pose", "--out", str(tmp_path), "--precision", "half"])
    assert "argument --precision: invalid choice: 'half'" in capsys.readouterr().err


def test_resume_check_names_each_changed_field(tmp_path):
    fields = {"labels": ["a", "b"], "input": input_spec(32, 32), "model": {"arch": "x", "width_multiplier": 0.35}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"task": "pose", **fields, "data": {"root": "/old"}}))
    check_resume_fields(path, {**fields, "data": {"root": "/moved"}})  # the data may move; the model may not
    changed = {**fields, "labels": ["a", "c"], "model": {"arch": "x", "width_multiplier": 0.5, "extra": 1}}
    with pytest.raises(TaskConfigError) as err:
        check_resume_fields(path, changed)
    assert str(err.value) == (f"--resume {tmp_path}: options differ from the interrupted run (labels: run has "
                              "['a', 'b'], asked ['a', 'c']; model.width_multiplier: run has 0.35, asked 0.5; "
                              "model.extra: run has nothing, asked 1)")


class _Regularised:
    """A spec whose own loss is zero: only the kernel's L2 penalty (model.losses) can move the weights."""

    task = "classify"

    def build(self):
        inp = keras.Input((4,))
        out = keras.layers.Dense(2, kernel_initializer="ones", kernel_regularizer=keras.regularizers.L2(1.0),
                                 name="scores")(inp)
        return keras.Model(inp, out)

    def batches(self, epoch):
        for _ in range(4):
            yield np.ones((2, 4), np.float32), np.zeros((2,), np.int32)

    def loss(self, targets, outputs, model):
        return {"loss": 0.0 * tf.reduce_sum(outputs)}

    def evaluate(self, model):
        return {"top1": 0.5}

    def inference_model(self, model):
        return model

    def run_fields(self):
        return {"labels": ["a", "b"], "input": input_spec(4, 1), "model": {}, "outputs": [], "decode": {},
                "data": {}}


def test_regularisation_losses_are_trained(tmp_path):
    out = tmp_path / "run"
    fit(_Regularised(), FitConfig(out=out, epochs=1, batch_size=2, learning_rate=0.05, show_progress=False))
    kernel = load_model(str(out / "model.keras")).get_layer("scores").get_weights()[0]
    assert kernel.max() < 0.9, kernel  # 4 Adam steps of 0.05 on the L2 gradient from 1.0
    assert read_run_json(out)["task"] == "classify"
