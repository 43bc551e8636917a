"""Pose, segment, enhance and classify go through export and edge exactly as detection does.

Per task, one tiny synthetic run (trained by the real CLI) is exported to float32 and int8 (and through its
optimisation mode, tested in test_task_optimize.py; conftest.exported_task_runs exports once for the folder);
the .tflite metadata is read by edge, float32 matches Keras within 1e-4, every variant is scored through
Engine + the task's adapter, and ``python -m edge run`` (no --task) writes the task's JSON line keys.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.metadata import model_info
from edge.model_file import read_model_file
from export.pipeline import summary
from export.run_folder import load_run
from export.task_data import task_data

from .task_cases import CASES, exported_variants

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runs(exported_task_runs):
    """task -> (run folder, its export report)."""
    return exported_task_runs


@pytest.mark.parametrize("task", list(CASES))
def test_export_metadata_parity_and_scores(runs, task):
    out, report = runs[task]
    roles, metric_keys = CASES[task][1], CASES[task][2]
    assert report.task == task
    by = {r.format: r for r in report.formats if not r.variant}  # the trained model as is
    assert set(by) == {"float32", "int8"}
    assert by["float32"].parity_ok and by["float32"].parity_max_abs_diff <= 1e-4
    assert by["int8"].input["dtype"] == "uint8" and by["int8"].output["dtype"] == "int8"
    for fmt, r in by.items():
        info = model_info(read_model_file(r.path))
        assert info.source == "edgevision" and info.task == task and info.quantization == fmt
        assert [o.role for o in info.outputs] == roles
        assert set(r.metrics) == metric_keys and all(np.isfinite(v) for v in r.metrics.values())
        assert r.eval_images == len(task_data(load_run(out)).val) and r.latency_p50_ms > 0
    written = json.loads((Path(report.out_dir) / "export.json").read_text())
    assert [(f["variant"], f["format"]) for f in written["formats"]] == exported_variants(task)
    assert set(written["formats"][1]["metrics"]) == metric_keys and written["task"] == task
    assert "int8 - float32:" in summary(report)


def test_float_scores_through_edge_match_training(runs):
    """The float32 model scored through edge agrees with train's own validation of the Keras model."""
    out, report = runs["classify"]
    trained = json.loads((out / "run.json").read_text())["metrics"]
    assert report.formats[0].metrics["top1"] == pytest.approx(trained["top1"], abs=1 / 6 + 1e-6)
    out, report = runs["segment"]
    trained = json.loads((out / "run.json").read_text())["metrics"]
    assert report.formats[0].metrics["pixel_accuracy"] == pytest.approx(trained["pixel_accuracy"], abs=0.05)


def _first_val_image(out: Path, task: str) -> Path:
    data = task_data(load_run(out))
    item = data.val[0]
    return {"classify": lambda: item[0], "segment": lambda: item.image, "pose": lambda: item.image,
            "enhance": lambda: item.low}[task]()


@pytest.mark.parametrize("task", list(CASES))
def test_edge_run_takes_the_task_from_metadata(runs, task, tmp_path):
    out, report = runs[task]
    model = Path(report.out_dir) / "model_int8.tflite"
    image = _first_val_image(out, task)
    lines = tmp_path / "out.jsonl"
    picture = tmp_path / "out.png"
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--model", str(model), "--source", f"file://{image}",
         "--sink", f"jsonl://{lines}", "--sink", f"file://{picture}", "--quiet", "--threads", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (line,) = [json.loads(x) for x in lines.read_text().splitlines()]
    assert CASES[task][3] in line
    import cv2

    written = cv2.imread(str(picture))
    assert written is not None and written.shape[:2] == cv2.imread(str(image)).shape[:2]


@pytest.mark.parametrize("task, labels, message", [
    ("depth", ["a"], "field 'task' is 'depth'; export supports detect, pose, segment, enhance, classify"),
    ("classify", [], "field 'labels' is empty"),
])
def test_run_folder_names_an_unsupported_task_or_missing_labels(tmp_path, task, labels, message):
    from export.errors import RunFolderError

    spec = {"name": "r", "task": task, "labels": labels, "outputs": [{"name": "scores", "role": "scores"}],
            "decode": {}, "input": {"width": 32, "height": 32, "channels": 3, "color": "RGB", "resize": "stretch",
                                    "mean": [0, 0, 0], "std": [255, 255, 255]},
            "data": {"format": "class_folders", "train": "t", "val": "v"}}
    (tmp_path / "run.json").write_text(json.dumps(spec))
    (tmp_path / "model.keras").write_bytes(b"")
    with pytest.raises(RunFolderError, match=message):
        load_run(tmp_path)


def test_enhancement_run_without_labels_is_accepted(tmp_path):
    spec = {"name": "r", "task": "enhance", "labels": [], "outputs": [{"name": "curves", "role": "curves"}],
            "decode": {"kind": "curves"}, "input": {"width": 32, "height": 24, "channels": 3, "color": "RGB",
                                                    "resize": "stretch", "mean": [0, 0, 0], "std": [255, 255, 255]},
            "data": {"format": "darken", "train": "t", "val": "v"}}
    (tmp_path / "run.json").write_text(json.dumps(spec))
    (tmp_path / "model.keras").write_bytes(b"")
    assert load_run(tmp_path).task == "enhance"


@pytest.mark.parametrize("task", list(CASES))
def test_export_report_scores_every_task(runs, task, tmp_path):
    """`python -m export report RUN` for each task: the task's own metrics per variant, the drop of its headline
    metric against float32, and the four files."""
    from export.cli import main as export_main
    from train import tasks

    out, exported = runs[task]
    rc = export_main(["report", str(out), "--export-dir", exported.out_dir, "--out", str(tmp_path), "--latency-runs",
                      "2", "--threads", "1", "--targets", "cpu", "--no-progress"])
    assert rc == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv", "report.json", "report.md", "report.png"]
    data = json.loads((tmp_path / "report.json").read_text())
    headline = tasks.get(task).headline()
    assert data["task"] == task and data["metric"] == headline.key
    by = {v["variant"]: v for v in data["variants"]}
    assert set(by) == {f"{variant}/{fmt}" if variant else fmt for variant, fmt in exported_variants(task)}
    for name, v in by.items():
        assert v["error"] is None and set(v["metrics"]) == CASES[task][2]
        scored = next(f for f in exported.formats  # the same scorer as export's own run
                      if (f"{f.variant}/{f.format}" if f.variant else f.format) == name)
        assert v["metrics"][headline.key] == pytest.approx(scored.metrics[headline.key], abs=1e-6)
    assert by["float32"]["drop"] == 0.0
    assert by["int8"]["drop"] == pytest.approx(
        headline.difference(by["float32"]["metrics"][headline.key] - by["int8"]["metrics"][headline.key]), abs=1e-3)
    md = (tmp_path / "report.md").read_text()
    assert f"| {headline.label}" in md and "| int8 |" in md and "map50" not in md.split("## Ops")[0].lower()
    header = (tmp_path / "report.csv").read_text().splitlines()[0].split(",")
    assert set(CASES[task][2]) <= set(header)


def test_report_without_a_headline_metric_has_no_drops():
    """An unpaired enhancement run measures brightness only: no headline, no drop, sizes still compared."""
    from export.report.measure import Row, compare_to_reference
    from train import tasks

    rows = [Row("float32", "", "float32", "a", size_bytes=100, gzip_bytes=90, metrics={"mean_in": 0.1, "mean_out": 0.4}),
            Row("int8", "", "int8", "b", size_bytes=30, gzip_bytes=27, metrics={"mean_in": 0.1, "mean_out": 0.38})]
    ref = compare_to_reference(rows, tasks.get("enhance"))
    assert ref is rows[0] and [r.metric for r in rows] == [None, None] and [r.drop for r in rows] == [None, None]
    assert rows[1].size_ratio == 0.3
