"""Plain helpers shared by the pipeline tests (imported by name: conftest modules of several folders clash)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"
CLIP = "video/one-by-one-person-detection.mp4"


def edge_env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")


def edge_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge", *args]


def ensure_tool(exe: str, *packages: str) -> str:
    """The path of ``exe``; else the test skips, naming the make target that installs it (fixtures never run
    apt-get)."""
    found = shutil.which(exe) or (exe if os.path.exists(exe) else None)
    if not found:
        pytest.skip(f"{exe} is not installed: `make system-deps` installs it as root "
                    f"(apt-get install {' '.join(packages)})")
    return found
