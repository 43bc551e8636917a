"""``python -m edge bench pipeline``: every row of the benchmark is produced, with figures, from a real run."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from edge.model_chain import ModelChain
from edge.pipeline import opencv_threads
from edge.pipeline_config import models_from_entries
from .pipeline_helpers import edge_cmd, edge_env

ROWS = ["bare invoke-only", "pipeline -> null://", "pipeline -> overlay + mp4",
        "plain synchronous loop -> overlay + mp4", "synthetic:// 30 FPS live -> null://",
        "peak RSS, one model, 60 frames through the pipeline", "import + model load + first result (fresh process)"]


def test_bench_pipeline_writes_every_row(ssd, clip, tmp_path):
    out = tmp_path / "bench.md"
    proc = subprocess.run(edge_cmd("bench", "pipeline", "--model", str(ssd), "--clip", str(clip), "--threads", "1",
                                   "--frames", "12", "--rounds", "2", "--live-seconds", "1", "--out", str(out)),
                          capture_output=True, text=True, env=edge_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = {line.split(" | ")[0].strip("| "): line for line in out.read_text().splitlines() if line.startswith("| ")}
    for row in ROWS:
        assert row in table, f"row {row!r} missing from {out}"
    assert "median of 2 interleaved rounds" in out.read_text()
    fps = [float(x) for x in re.findall(r"([\d.]+) FPS", table["pipeline -> null://"])]
    assert fps and fps[0] > 0
    assert float(re.search(r"([\d.]+) MB", table[ROWS[5]]).group(1)) > 10  # a real process, a real model


@pytest.mark.parametrize("flag, value", [("--rounds", "0"), ("--frames", "0"), ("--threads", "0")])
def test_bench_pipeline_rejects_bad_counts(ssd, clip, flag, value):
    args = ["--model", str(ssd), "--clip", str(clip), flag, value]
    proc = subprocess.run(edge_cmd("bench-pipeline", *args), capture_output=True, text=True, env=edge_env(), timeout=120)
    assert proc.returncode == 2
    assert f"{flag} 0: expected an integer in 1.." in proc.stderr


def test_bench_pipeline_names_a_missing_clip(ssd, tmp_path):
    missing = tmp_path / "nope.mp4"
    proc = subprocess.run(edge_cmd("bench", "pipeline", "--model", str(ssd), "--clip", str(missing)),
                          capture_output=True, text=True, env=edge_env(), timeout=120)
    assert proc.returncode == 2 and f"--clip {missing}: no such file" in proc.stderr


@pytest.mark.parametrize("threads, expected", [(1, max(1, (os.cpu_count() or 1) - 1)),
                                               (os.cpu_count() or 1, 1), (64, 1)])
def test_opencv_gets_the_cores_the_interpreter_leaves(ssd, threads, expected):
    chain = ModelChain(models_from_entries([{"path": str(ssd), "threads": threads}], "test"))
    assert opencv_threads(chain) == expected
