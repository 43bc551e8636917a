"""A tiny training run per task through ``python -m train <task>``'s code path: run folder, model, metrics.

Classify, pose and enhance check the runs tests/export exports too (tests/conftest.py::trained_task_runs, two
epochs, trained once per session: this module shares their xdist group); segment trains its own with --argmax.
"""

from __future__ import annotations

import json
import shutil

import numpy as np

from train.cli import main
from train.saved_model import load_model
from train.run_folder import RunPaths, read_history, read_run_json

from .one_number import assert_one_number


def _run(tmp_path, task, *extra, capsys=None):
    """Train; with ``capsys``, also check the run's one validation number against export's (one_number.py)."""
    out = tmp_path / "run"
    if capsys is not None:
        capsys.readouterr()
    rc = main([task, "--out", str(out), "--epochs", "2", *extra])
    assert rc == 0
    if capsys is not None:
        assert_one_number(out, capsys.readouterr().out, capsys)
    return out


def _shared(trained_task_runs, task, tmp_path, capsys):
    """A copy of the session's tiny run of ``task`` as training left it (tests/export's exports refresh run.json's
    validation figure), its one validation number checked against export's (one_number.py)."""
    shared = trained_task_runs[task]
    out = tmp_path / "run"
    shutil.copytree(shared, out)
    shutil.copy(shared.parent / f"{shared.name}.trained.json", out / "run.json")
    assert_one_number(out, (shared.parent / f"{shared.name}.printed.txt").read_text(), capsys)
    return out


def _check_folder(out, task, metric_keys):
    run = read_run_json(out)
    assert run["task"] == task
    rows = read_history(RunPaths(out))
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(np.isfinite(r["loss"]) for r in rows)
    for k in metric_keys:
        assert k in run["metrics"] and f"val_{k}" in rows[-1]
    model = load_model(str(out / "model.keras"))
    names = model.output_names
    for spec in run["outputs"]:  # run.json's outputs are the saved model's outputs, shapes included
        assert spec["name"] in names
        tensor = model.outputs[names.index(spec["name"])]
        assert [1] + list(tensor.shape[1:]) == spec["shape"]
    assert list(model.input.shape[1:3]) == [run["input"]["height"], run["input"]["width"]]
    assert (out / "checkpoints").is_dir()
    return run, model


def test_classify(trained_task_runs, tmp_path, monkeypatch, capsys):
    out = _shared(trained_task_runs, "classify", tmp_path, capsys)
    run, model = _check_folder(out, "classify", ["top1", "top5"])
    assert run["labels"] == ["circle", "cross", "square", "star", "triangle"]
    assert 0 <= run["metrics"]["top1"] <= run["metrics"]["top5"] <= 1
    probs = model.predict(np.zeros((1, 32, 32, 3), np.float32), verbose=0)
    assert probs.shape == (1, 5) and abs(float(probs.sum()) - 1) < 1e-4
    # --resume continues the run (the copy) to a third epoch; without --resume the folder is refused
    monkeypatch.chdir(trained_task_runs["classify"].parent)  # where the synthetic set is, as for the first epochs
    assert main(["classify", "--out", str(out), "--epochs", "3", "--input-size", "32", "--batch", "8",
                 "--resume"]) == 0
    assert [r["epoch"] for r in read_history(RunPaths(out))] == [1, 2, 3]
    assert main(["classify", "--out", str(out), "--epochs", "3", "--input-size", "32"]) == 2


def test_segment_argmax(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = _run(tmp_path, "segment", "--input-size", "64", "--batch", "4", "--synth-train", "12", "--synth-val", "4",
               "--argmax", capsys=capsys)
    run, model = _check_folder(out, "segment", ["miou", "pixel_accuracy"])
    assert run["decode"] == {"kind": "argmax", "ignore_label": 255}
    assert run["outputs"][0]["role"] == "segmentation_classes"
    classes = model.predict(np.zeros((1, 64, 64, 3), np.float32), verbose=0)
    assert classes.shape == (1, 64, 64) and classes.dtype == np.int32 and classes.max() < 6


def test_pose(trained_task_runs, tmp_path, capsys):
    out = _shared(trained_task_runs, "pose", tmp_path, capsys)
    run, model = _check_folder(out, "pose", ["pck", "oks_ap", "oks_ap50"])
    assert run["outputs"][0] == {"name": "heatmaps", "role": "heatmaps", "shape": [1, 16, 16, 17]}
    assert run["decode"]["kind"] == "heatmaps_offsets" and len(run["labels"]) == 17
    hist = read_history(RunPaths(out))
    assert hist[1]["heatmap_loss"] < hist[0]["heatmap_loss"]  # it learns something in two tiny epochs


def test_enhance(trained_task_runs, tmp_path, capsys):
    out = _shared(trained_task_runs, "enhance", tmp_path, capsys)
    run, model = _check_folder(out, "enhance", ["psnr", "ssim", "mean_in", "mean_out"])
    assert run["outputs"] == [{"name": "curves", "role": "curves", "shape": [1, 24, 32, 3]}]
    curves = model.predict(np.zeros((1, 24, 32, 3), np.float32), verbose=0)
    assert np.abs(curves).max() <= 1.0
    assert json.loads((out / "run.json").read_text())["data"]["format"] == "darken"


def test_bad_data_is_one_line_error(tmp_path, capsys):
    (tmp_path / "low").mkdir()
    (tmp_path / "high").mkdir()
    assert main(["pose", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "train.json" in capsys.readouterr().err
