"""The whole export of train's own (tiny, untrained) detector through the CLI: files, metadata, parity, scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from export import calibration, convert, parity
from train import detect_entry
from export.cli import main
from export.metadata import read_metadata
from export.run_folder import load_run


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    rc = main([str(tiny_run), "--formats", "float32,int8", "--calib-samples", "16", "--out", str(out),
               "--threads", "1", "--parity-images", "8"])
    return rc, out, json.loads((out / "export.json").read_text())


def test_cli_exit_code_and_files(exported):
    rc, out, report = exported
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "model_float32.tflite", "model_int8.tflite"]
    assert [f["format"] for f in report["formats"]] == ["float32", "int8"]
    assert report["calibration"]["used"] == 16 and report["calibration"]["train_images"] == 24


def test_report_figures(exported):
    _, out, report = exported
    for f in report["formats"]:
        assert f["size_bytes"] == (out / f"model_{f['format']}.tflite").stat().st_size
        m = f["metrics"]
        assert 0.0 <= m["map50"] <= 1.0 and 0.0 <= m["map50_95"] <= m["map50"] + 1e-9
        assert f["latency_p50_ms"] > 0 and f["eval_images"] == 8
    f32, i8 = report["formats"]
    assert f32["parity_ok"] and f32["parity_max_abs_diff"] <= 1e-4 and f32["parity_tolerance"] == 1e-4
    assert i8["parity_tolerance"] is None and i8["parity_max_abs_diff"] < 0.1
    assert i8["input"]["dtype"] == "uint8" and i8["input"]["raw_pixels"] is True
    assert i8["output"]["dtype"] == "int8"


def test_metadata_read_by_edge(exported, tiny_run):
    from edge.engine import Engine

    _, out, report = exported
    for f in report["formats"]:
        engine = Engine(out / f"model_{f['format']}.tflite", threads=1)
        assert engine.info.source == "edgevision" and engine.info.quantization == f["format"]
        assert engine.info.labels == ("square", "disc")
        assert [o.name for o in engine.info.outputs] == engine.output_names == [f["output"]["name"]]
        meta = read_metadata((out / f"model_{f['format']}.tflite").read_bytes())
        assert meta["run"]["path"] == str(tiny_run.resolve())


def test_int8_detections_follow_float(exported, tiny_run):
    """Through edge's Engine (the device path): int8 raw outputs stay close to float32 on validation frames."""
    from edge.engine import Engine

    _, out, _ = exported
    engines = [Engine(out / f"model_{name}.tflite", threads=1) for name in ("float32", "int8")]
    diffs = []
    for rec in detect_entry.validation_records(load_run(tiny_run)):
        frame = calibration.read_bgr(rec.image)
        outs = [e.infer(e.prepare(frame)[0])[e.output_names[0]] for e in engines]
        diffs.append(np.abs(outs[0] - outs[1]))
    diff = np.stack(diffs)
    print(f"int8 vs float32 through edge: max |diff| {diff.max():.4f}, mean {diff.mean():.5f}")
    assert diff.mean() < 0.01 and diff.max() < 0.1


def test_float32_parity_direct(exported, tiny_run):
    run = load_run(tiny_run)
    _, out, _ = exported
    samples = calibration.load_samples([r.image for r in detect_entry.validation_records(run)], run)
    model = convert.load_keras_model(run.model_path)
    result = parity.compare(model, (out / "model_float32.tflite").read_bytes(), samples, "detections", 1e-4)
    print(f"float32 vs Keras: max |diff| {result.max_abs_diff:.2e} on {result.images} images")
    assert result.ok and result.images == 8
