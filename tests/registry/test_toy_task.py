"""A task lives in one place: a toy task registered from tests/registry/toy_task.py alone is trained by
``python -m train``, exported and scored by ``python -m export``, reported by ``python -m export report`` and run
by ``python -m edge run``, with no line of the project naming it."""

from __future__ import annotations

import json

import pytest

from edge import tasks as edge_tasks
from train import tasks

from . import toy_task

pytestmark = pytest.mark.training

MODULE = "tests.registry.toy_task"


@pytest.fixture(scope="module")
def registered():
    tasks.register(MODULE, "level")
    edge_tasks.register_adapter("level", f"{MODULE}:ADAPTER")
    yield
    tasks.TASK_MODULES.pop("level", None)
    tasks._LOADED.pop("level", None)
    edge_tasks._ADAPTERS.pop("level", None)


@pytest.fixture(scope="module")
def trained(registered, tmp_path_factory):
    from train.cli import main as train_main

    root = tmp_path_factory.mktemp("level")
    data = toy_task.write_dataset(root / "data")
    run = root / "run"
    rc = train_main(["level", "--data", str(data), "--out", str(run), "--epochs", "6", "--batch", "8",
                     "--no-progress"])
    assert rc == 0
    return data, run


def test_trained_through_the_registry_with_one_validation_number(trained):
    _, run = trained
    spec = json.loads((run / "run.json").read_text())
    assert spec["task"] == "level" and spec["labels"] == []
    record = spec["validation"]  # scored once through edge (the toy adapter) when training ended
    assert record["metric"] == "within" and record["images"] == 12
    assert set(record["metrics"]) == {"within", "mae"}
    assert record["metrics"]["mae"] < 0.15  # six short epochs of one Dense layer: near the truth, not perfect


def test_exported_reported_and_run_on_the_device_runtime(trained, tmp_path):
    from edge.cli import main as edge_main
    from export.cli import main as export_main

    data, run = trained
    assert export_main([str(run), "--formats", "float32,int8", "--calib-samples", "16",
                        "--threads", "1"]) == 0
    exported = json.loads((run / "export" / "export.json").read_text())
    by = {f["format"]: f for f in exported["formats"]}
    assert by["float32"]["parity_ok"] and set(by["int8"]["metrics"]) == {"within", "mae"}
    validation = json.loads((run / "run.json").read_text())["validation"]
    assert by["float32"]["metrics"]["within"] == pytest.approx(validation["value"], abs=1e-4)

    assert export_main(["report", str(run), "--out", str(tmp_path / "report"), "--latency-runs", "2",
                        "--threads", "1", "--targets", "cpu", "--no-progress"]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["task"] == "level" and report["metric"] == "within"
    assert [v["variant"] for v in report["variants"]] == ["float32", "int8"]
    assert report["variants"][0]["metrics"]["within"] == pytest.approx(validation["value"], abs=1e-4)

    image = sorted((data / "val").glob("*.png"))[0]
    lines = tmp_path / "level.jsonl"
    assert edge_main(["run", "--model", str(run / "export" / "model_int8.tflite"), "--source", f"file://{image}",
                      "--sink", f"jsonl://{lines}", "--quiet", "--threads", "1"]) == 0
    (line,) = [json.loads(x) for x in lines.read_text().splitlines()]
    import cv2

    assert abs(line["level"] - toy_task.true_level(cv2.imread(str(image)))) < 0.2


def test_an_unregistered_task_is_named(tmp_path):
    with pytest.raises(tasks.UnknownTaskError, match="task 'depth'; the tasks are detect, pose"):
        tasks.get("depth")
