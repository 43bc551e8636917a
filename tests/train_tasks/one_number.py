"""Checks shared by the tiny training tests: one validation number per run (issue #12)."""

from __future__ import annotations

import json

from export.cli import main as export_main
from train.run_folder import read_run_json


def assert_one_number(out, printed: str, capsys) -> dict:
    """run.json's ``validation`` is the figure train printed last, and export's float32 figure is the same
    (the same file scored by the same code), which export says; returns the record."""
    record = read_run_json(out)["validation"]
    assert record["format"] == "float32" and record["images"] > 0 and record["file"] == "export/model_float32.tflite"
    assert record["metric"] in record["metrics"] and record["value"] == record["metrics"][record["metric"]]
    last = printed.strip().splitlines()[-1]
    assert f"{record['metric']} {record['value']:.4f} through the edge runtime" in last, last
    capsys.readouterr()
    assert export_main([str(out), "--formats", "float32"]) == 0
    said = capsys.readouterr().out
    exported = json.loads((out / "export" / "export.json").read_text())
    f32 = next(f for f in exported["formats"] if f["format"] == "float32")
    assert {k: round(v, 4) for k, v in f32["metrics"].items()} == record["metrics"]
    assert f"float32 = the run's validation figure in run.json ({record['metric']} {record['value']:.4f})" in said
    assert "warning: float32 scores" not in said
    assert read_run_json(out)["validation"] == record
    return record
