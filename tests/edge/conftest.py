"""Helpers for the edge tests: run the CLI in a subprocess, the SSD model path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"


def run_cli(*args: str, code: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m edge ARGS`` (or ``python -c CODE ARGS``) from the repo root, output captured."""
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "edge", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def ssd(zoo) -> Path:
    return zoo / SSD


@pytest.fixture(scope="session")
def cli():
    """The ``run_cli`` helper, as a fixture (tests/ is not a package)."""
    return run_cli
