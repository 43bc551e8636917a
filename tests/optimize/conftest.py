"""Fixtures: a few-layer model with the detection output contract, images, and the export tests' tiny run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_EXPORT_CONFTEST = Path(__file__).resolve().parent.parent / "export" / "conftest.py"


def _export_helpers():
    spec = importlib.util.spec_from_file_location("export_test_helpers", _EXPORT_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIZE = 32


def small_model():
    """image [1, 32, 32, 3] -> ``detections`` [1, 64, 6] in 0..1: Conv2D, BN, DepthwiseConv2D and Dense kernels."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv1")(image)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(6.0, name="relu1")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Dense(16, activation="relu", name="dense")(x)
    x = keras.layers.Conv2D(6, 1, name="head")(x)
    x = keras.layers.Reshape(((SIZE // 4) ** 2, 6), name="flat")(x)
    return keras.Model(image, keras.layers.Activation("sigmoid", name="detections")(x), name="small")


@pytest.fixture()
def model():
    return small_model()


@pytest.fixture(scope="session")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((32, SIZE, SIZE, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    helpers = _export_helpers()
    data = tmp_path_factory.mktemp("data")
    helpers.write_coco(data, "train", 24, seed=1)
    helpers.write_coco(data, "val", 8, seed=2)
    return helpers.make_run(tmp_path_factory.mktemp("runs") / "tiny", data)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A run folder really trained by train's detector loop (what `python -m train detect` runs) for one epoch on a
    tiny synthetic set; 64x64 input (allow_small_input: the CLI's floor is 192) keeps conversions fast."""
    from train.datasets import load_detection_data
    from train.detect import TrainConfig, train_detector
    from train.synth import SynthConfig, generate

    data = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(data, train=32, val=8, size=64, seed=0))
    out = tmp_path_factory.mktemp("runs") / "trained"
    train_detector(TrainConfig(out=out, epochs=1, batch=16, input_size=64, width=0.35, allow_small_input=True,
                               show_progress=False), load_detection_data(data, "coco"))
    return out


@pytest.fixture(scope="session")
def pruned_export(trained_run, tmp_path_factory) -> tuple[int, Path, str]:
    """`python -m export RUN --formats float32,int8 --optimize prune` on the trained tiny run, once for the folder:
    (exit code, export folder, what it printed). The CLI tests read it; the report tests report on a copy."""
    import contextlib
    import io

    from export.cli import main

    out = tmp_path_factory.mktemp("pruned_export")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main([str(trained_run), "--formats", "float32,int8", "--optimize", "prune", "--sparsity", "0.5",
                   "--finetune-steps", "8", "--prune-frequency", "2", "--calib-samples", "16", "--out", str(out),
                   "--no-eval", "--parity-images", "4"])
    return rc, out, printed.getvalue()
