"""Helpers for the task tests: run ``python -m edge`` in a subprocess from the repo root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def edge_cli():
    def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
        return subprocess.run([sys.executable, "-m", "edge", *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=timeout)

    return run
