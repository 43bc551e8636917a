"""Third-party models without metadata: the task comes from an unambiguous structure, else --task is asked for."""

from __future__ import annotations

import subprocess
import sys

from edge.metadata import model_info
from edge.model_file import read_model_file


def test_final_argmax_means_segmentation(zoo):
    info = model_info(read_model_file(zoo / "models/deeplabv3_mnv2_pascal_quant.tflite"))
    assert info.source == "structure"
    assert info.task == "segment"
    assert [o.role for o in info.outputs] == ["segmentation_classes"]


def test_classifier_is_recognised_without_task(zoo, repo):
    """The zoo MobileNet names no task in its metadata; its one [1, 1001] output makes it a classifier."""
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--model", str(zoo / "models/mobilenet_v2_1.0_224_quant.tflite"),
         "--source", f"file://{zoo / 'images/cat.bmp'}", "--sink", "null://", "--quiet"],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "task classify" in proc.stderr and "family classifier" in proc.stderr


def test_unrecognised_model_error_names_its_outputs(tmp_path, repo):
    from tests.edge.tiny_models import mean_model

    path = mean_model(tmp_path / "two_means.tflite", outputs=2, names=("alpha", "beta"))
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--model", str(path), "--source", "synthetic://?fps=30",
         "--sink", "null://", "--max-frames", "1", "--quiet"],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "alpha [1, 3], beta [1, 3]" in proc.stderr and "--task" in proc.stderr
    assert "Traceback" not in proc.stderr
