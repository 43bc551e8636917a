"""Shared fixtures. The zoo of real third-party models lives beside the repo in ../shared/zoo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
ZOO = Path(os.environ.get("EDGEVISION_ZOO", REPO.parent / "shared" / "zoo"))


@pytest.fixture(scope="session")
def zoo() -> Path:
    if not (ZOO / "models").is_dir():
        pytest.skip(f"the model zoo is absent at {ZOO} (set EDGEVISION_ZOO to its path)")
    return ZOO


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
