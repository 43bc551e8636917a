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


def test_classifier_without_metadata_needs_task(zoo, repo):
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--model", str(zoo / "models/mobilenet_v2_1.0_224_quant.tflite"),
         "--source", f"file://{zoo / 'images/cat.bmp'}", "--sink", "null://", "--quiet"],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "--task" in proc.stderr and "Traceback" not in proc.stderr
