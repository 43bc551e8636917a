"""--min-runtime 2.14: the exported file loads in the real tflite-runtime 2.14 (own venv), the default does not."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from export.cli import main
from export.min_runtime import MinRuntimeError, op_problems, runtime_ops

from .conftest import SIZE, _export_helpers

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("EDGEVISION_TFLITE214_VENV", REPO / ".venv-tflite214"))

_LOAD = """
import sys
from tflite_runtime.interpreter import Interpreter
try:
    Interpreter(model_path=sys.argv[1]).allocate_tensors()
    print("LOADED")
except Exception as exc:
    print("FAILED", exc)
"""


@pytest.fixture(scope="session")
def runtime_214() -> Path:
    """The venv with tflite-runtime 2.14.0 and numpy<2 that `make helper-venvs` makes (`make test` calls it)."""
    python = VENV / "bin" / "python"
    if not python.exists() or not (os.environ.get("EDGEVISION_TFLITE214_VENV") or (VENV / ".installed").is_file()):
        pytest.skip(f"no tflite-runtime 2.14 venv at {VENV}: `make helper-venvs` creates it")
    return python


def flat_dense_model():
    """image -> Conv2D -> Flatten -> Dense -> ``detections`` [1, 64, 6]: a rank-2 Dense is a FULLY_CONNECTED op."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", activation="relu", name="conv")(image)
    x = keras.layers.Dense(64 * 6, name="dense")(keras.layers.Flatten(name="flatten")(x))
    x = keras.layers.Reshape((64, 6), name="rows")(x)
    return keras.Model(image, keras.layers.Activation("sigmoid", name="detections")(x), name="flat_dense")


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory) -> Path:
    """A run whose model has a Dense layer: TF 2.21's default dynamic-range FULLY_CONNECTED is v12."""
    from train.detect import detection_fields
    from train.run_folder import build_run_json

    helpers = _export_helpers()
    data = tmp_path_factory.mktemp("dense_data")
    helpers.write_coco(data, "train", 12, seed=1)
    helpers.write_coco(data, "val", 4, seed=2)
    folder = tmp_path_factory.mktemp("runs") / "dense"
    folder.mkdir()
    model = flat_dense_model()
    model.save(str(folder / "model.keras"))
    run = build_run_json(name="dense", task="detect", fields=detection_fields(
        helpers.LABELS, {"input_size": SIZE, "arch": "test"}, (SIZE // 4) ** 2,
        {"format": "coco", "root": str(data), "train": str(data / "train.json"), "val": str(data / "val.json")}))
    (folder / "run.json").write_text(json.dumps(run))
    return folder


def _load(python: Path, path: Path) -> str:
    result = subprocess.run([str(python), "-c", _LOAD, str(path)], capture_output=True, text=True, timeout=120)
    return result.stdout.strip() or result.stderr.strip()


def test_min_runtime_model_loads_in_214_and_default_does_not(dense_run, runtime_214, tmp_path):
    default_dir, old_dir = tmp_path / "default", tmp_path / "old"
    common = [str(dense_run), "--formats", "float32,dynamic,int8", "--no-eval", "--calib-samples", "10",
              "--parity-images", "2"]
    assert main(common + ["--out", str(default_dir)]) == 0
    assert main(common + ["--out", str(old_dir), "--min-runtime", "2.14"]) == 0
    loaded = _load(runtime_214, default_dir / "model_dynamic.tflite")
    assert "FULLY_CONNECTED" in loaded and "version '12'" in loaded, loaded
    for name in ("float32", "dynamic", "int8"):
        assert _load(runtime_214, old_dir / f"model_{name}.tflite") == "LOADED", name
    problems = op_problems((default_dir / "model_dynamic.tflite").read_bytes(), "2.14")
    assert [(p.op, p.version) for p in problems] == [("FULLY_CONNECTED", 12)]


def test_unknown_runtime_is_an_error():
    with pytest.raises(MinRuntimeError, match=r"--min-runtime '1.0' is unknown; known runtimes: 2.14"):
        runtime_ops("1.0")


def test_op_table_names_its_source():
    table = runtime_ops("2.14")
    assert table.runtime == "tflite-runtime 2.14.0" and "probe_op_versions" in table.source
    assert table.max_versions["FULLY_CONNECTED"] < 12
