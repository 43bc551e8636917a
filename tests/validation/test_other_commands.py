"""Bad options of the other commands (export, edge bench / bench-pipeline / health / run's --task and
--labels): exit 2, one line naming the option and what was expected, before TensorFlow or a model loads."""

from __future__ import annotations

import pytest

from .conftest import one_error

SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"

EXPORT_CASES = [
    ("threads", ["--threads", "100000"], ["--threads 100000", "per CPU"]),
    ("calib", ["--calib-samples", "0"], ["--calib-samples 0"]),
    ("parity", ["--parity-images", "-3"], ["--parity-images -3"]),
    ("eval", ["--eval-images", "0"], ["--eval-images 0"]),
    ("sparsity", ["--sparsity", "1"], ["--sparsity 1.0", "strictly between 0 and 1"]),
    ("clusters", ["--clusters", "1"], ["--clusters 1"]),
    ("finetune-lr", ["--finetune-lr", "0"], ["--finetune-lr 0.0"]),
    ("qat-lr", ["--qat-lr", "inf"], ["--qat-lr inf"]),
    ("prune-frequency", ["--prune-frequency", "0"], ["--prune-frequency 0"]),
    ("dense-share", ["--prune-dense-share", "1"], ["--prune-dense-share 1.0"]),
]


@pytest.mark.parametrize("args, needles", [c[1:] for c in EXPORT_CASES], ids=[c[0] for c in EXPORT_CASES])
def test_export_bad_options(args, needles, tmp_path, run):
    (tmp_path / "run.json").write_text("{}\n")  # the options are judged before the run folder is read
    proc = run("export", str(tmp_path), *args)
    one_error(proc, "error:", needles)
    assert not (tmp_path / "export").exists()


def test_export_not_a_run_folder(tmp_path, run):
    proc = run("export", str(tmp_path / "nothing"))
    one_error(proc, "error:", ["nothing", "is not a run folder"])
    assert "tensorflow" not in proc.stderr.lower()


EDGE_CASES = [
    ("bench-runs", ["bench", "--model", "{ssd}", "--runs", "0"], ["--runs 0"]),
    ("bench-warmup", ["bench", "--model", "{ssd}", "--warmup", "-1"], ["--warmup -1"]),
    ("bench-frames", ["bench", "--model", "{ssd}", "--frames", "0"], ["--frames 0"]),
    ("bench-threads", ["bench", "--model", "{ssd}", "--threads", "1,100000"], ["--threads '1,100000'", "1..",]),
    ("bench-delegate", ["bench", "--model", "{ssd}", "--delegate", "tpu"], ["--delegate tpu"]),
    ("bench-source", ["bench", "--model", "{ssd}", "--source", "synthetic://?fps=fast"], ["fps = 'fast'"]),
    ("bench-pipeline-threads", ["bench-pipeline", "--model", "{ssd}", "--clip", "x.mp4", "--threads", "100000"],
     ["--threads 100000"]),
    ("bench-pipeline-rounds", ["bench-pipeline", "--model", "{ssd}", "--clip", "x.mp4", "--rounds", "0"],
     ["--rounds 0"]),
    ("bench-pipeline-live", ["bench-pipeline", "--model", "{ssd}", "--clip", "x.mp4", "--live-seconds", "-1"],
     ["--live-seconds -1.0"]),
    ("health-uptime", ["health", "--min-uptime", "-5"], ["--min-uptime -5.0"]),
    ("run-task", ["run", "--model", "{ssd}", "--source", "x.jpg", "--task", "detction"],
     ["--task detction", "did you mean detect?"]),
    ("run-labels", ["run", "--model", "{ssd}", "--source", "x.jpg", "--labels", "absent.txt"],
     ["--labels absent.txt", "an existing labels file"]),
]


@pytest.mark.parametrize("args, needles", [c[1:] for c in EDGE_CASES], ids=[c[0] for c in EDGE_CASES])
def test_edge_commands_bad_options(args, needles, zoo, run):
    args = [a.format(ssd=zoo / SSD) for a in args]
    proc = run("edge", *args)
    one_error(proc, f"edge {args[0]}: error:", needles)
    assert "XNNPACK" not in proc.stderr  # no model was loaded
