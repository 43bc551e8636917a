"""`python -m export report RUN` on a really trained tiny run with three exported variants: every variant in the
four files, figures in range, a real PNG."""

from __future__ import annotations

import csv
import gzip
import json
import shutil

import cv2
import pytest

from export.cli import main

VARIANTS = ["float32", "int8", "prune/float32"]


@pytest.fixture(scope="module")
def reported(trained_run, pruned_export, tmp_path_factory):
    _, exported, _ = pruned_export  # test_cli_optimize.py checks that export itself
    export_dir = tmp_path_factory.mktemp("export")
    for name in ("model_float32.tflite", "model_int8.tflite", "model_prune_float32.tflite"):  # three variants are
        shutil.copy(exported / name, export_dir / name)  # enough to prove "every variant"
    out = tmp_path_factory.mktemp("report")
    rc = main(["report", str(trained_run), "--export-dir", str(export_dir), "--out", str(out),
               "--latency-runs", "5", "--no-progress"])
    return rc, export_dir, out


def test_report_exit_code_and_files(reported):
    rc, _, out = reported
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.csv", "report.json", "report.md", "report.png"]


def test_every_variant_in_all_four_files(reported):
    _, _, out = reported
    data = json.loads((out / "report.json").read_text())
    assert [v["variant"] for v in data["variants"]] == VARIANTS
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [r["variant"] for r in rows] == VARIANTS
    md = (out / "report.md").read_text()
    for name in VARIANTS:
        assert f"| {name} |" in md
    image = cv2.imread(str(out / "report.png"))
    assert image is not None and image.shape[0] > 300 and image.shape[1] > 400
    assert image.std() > 5  # drawn on, not a blank canvas


def test_fields_are_present_and_sane(reported):
    import os

    _, export_dir, out = reported
    data = json.loads((out / "report.json").read_text())
    n = os.cpu_count()
    assert data["threads"] == sorted({1, n}) and data["images"] == 8 and data["task"] == "detect"
    by = {v["variant"]: v for v in data["variants"]}
    for v in data["variants"]:
        raw = (export_dir / v["file"].rsplit("/", 1)[-1]).read_bytes()
        assert v["error"] is None
        assert v["size_bytes"] == len(raw) and 0 < v["gzip_bytes"] == len(gzip.compress(raw, 9, mtime=0))
        m = v["metrics"]
        assert 0.0 <= m["map50"] <= 1.0 and 0.0 <= m["map50_95"] <= m["map50"] + 1e-9 and v["images"] == 8
        assert v["metric"] == "map50"
        assert v["drop"] == pytest.approx(100 * (by["float32"]["metrics"]["map50"] - m["map50"]), abs=1e-3)
        assert [lat["threads"] for lat in v["latency"]] == data["threads"]
        for lat in v["latency"]:
            assert 0 < lat["p50_ms"] <= lat["p90_ms"] and lat["runs"] == 5
        assert set(v["coverage"]) == {"cpu", "gpu", "edgetpu", "nnapi"}
        assert v["coverage"]["cpu"]["fraction"] == 1.0
    assert by["float32"]["quantization"] == "float32" and by["int8"]["quantization"] == "int8"
    assert by["float32"]["drop"] == 0.0 and by["float32"]["gzip_ratio"] == 1.0
    assert by["int8"]["size_ratio"] < 0.5  # int8 weights: about a quarter of float32, plus metadata
    assert by["float32"]["sparsity"] < 0.05 and by["prune/float32"]["sparsity_prunable"] >= 0.49
    assert by["prune/float32"]["gzip_ratio"] < 0.9  # zeros compress
    assert by["float32"]["coverage"]["edgetpu"]["fraction"] is None  # a float model is not an Edge TPU model
    assert 0.0 < by["int8"]["coverage"]["edgetpu"]["fraction"] <= 1.0
    row = next(csv.DictReader((out / "report.csv").open()))
    assert float(row["p50_ms_1t"]) == by["float32"]["latency"][0]["p50_ms"]


def test_no_exported_models_is_an_error(trained_run, tmp_path, capsys):
    assert main(["report", str(trained_run), "--export-dir", str(tmp_path)]) == 2
    assert f"{tmp_path}: no .tflite files to report on" in capsys.readouterr().err


def test_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert f"{tmp_path} is not a run folder: missing run.json and model.keras" in capsys.readouterr().err
