"""One validation number per run (issue #12): the saved model is scored once through the edge runtime when
``python -m train`` ends; run.json's ``validation``, train's last line, export's float32 figure and the
report all show that number. The other four tasks are checked in test_tiny_training.py (the same runs)."""

from __future__ import annotations

import json

from export.validation import model_sha256, recorded_validation
from train.cli import main as train_main

from ..export.conftest import write_coco
from .one_number import assert_one_number


def test_detection_train_export_and_report_show_one_number(tmp_path, capsys):
    data, out = tmp_path / "shapes", tmp_path / "run"
    write_coco(data, "train", 16, seed=1, size=192)
    write_coco(data, "val", 6, seed=2, size=192)
    capsys.readouterr()
    assert train_main(["detect", "--data", str(data), "--format", "coco", "--input-size", "192", "--batch", "8",
                       "--no-progress", "--out", str(out), "--epochs", "1"]) == 0
    record = assert_one_number(out, capsys.readouterr().out, capsys)
    from export.report import ReportOptions, build_report

    report = build_report(out, ReportOptions(latency_runs=2, threads=(1,), progress=False), log=lambda *_: None)
    assert f"map50 {record['value']:.4f} through the edge runtime" in report.files[2].read_text(encoding="utf-8")
    (row,) = [r for r in report.rows if r.quantization == "float32"]
    assert round(row.metrics['map50'], 4) == record["value"], (row, record)


def test_a_changed_model_is_not_shown_with_the_old_figure(tmp_path):
    spec = {"name": "r", "task": "classify", "labels": ["a", "b"], "outputs": [{"name": "scores", "role": "scores"}],
            "decode": {}, "input": {"width": 32, "height": 32, "channels": 3, "color": "RGB", "resize": "stretch",
                                    "mean": [0, 0, 0], "std": [255, 255, 255]},
            "data": {"format": "class_folders", "train": "t", "val": "v"}}
    (tmp_path / "model.keras").write_bytes(b"weights")
    spec["validation"] = {"format": "float32", "metric": "top1", "value": 0.5, "metrics": {"top1": 0.5},
                          "images": 4, "model_sha256": model_sha256(tmp_path), "file": "export/model_float32.tflite"}
    (tmp_path / "run.json").write_text(json.dumps(spec))
    assert recorded_validation(tmp_path) == spec["validation"]
    (tmp_path / "model.keras").write_bytes(b"weights, retrained")  # not the file that was scored any more
    assert recorded_validation(tmp_path) is None
