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


# Folders whose tests all import TensorFlow, train, convert or start sshd: slow by what they do.
_SLOW_FOLDERS = {"train": "training", "train_tasks": "training", "export": "conversion",
                 "optimize": "conversion", "devices": "sshd"}
_CAUSES = ("training", "conversion", "sshd", "browser", "xdisplay", "gstreamer", "qemu")


def pytest_collection_modifyitems(config, items):
    """Every test marked with a cause of slowness is also `slow`; `make test-fast` runs `-m "not slow"`."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        cause = _SLOW_FOLDERS.get(parts[0]) if len(parts) > 1 else None
        if cause:
            item.add_marker(getattr(pytest.mark, cause))
        if any(item.get_closest_marker(c) for c in _CAUSES):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("qemu") and os.environ.get("EDGEVISION_BOARD_SIM") != "1":
            item.add_marker(pytest.mark.skip(reason=_QEMU_SKIP))


# The emulated board costs ~25 min on a fresh machine (debootstrap + OpenCV under qemu) and 10-16 min with
# its root cached: more than the rest of `make test` together, so it has its own target.
_QEMU_SKIP = "the emulated arm64 board runs with `make test-board` (EDGEVISION_BOARD_SIM=1), not in `make test`"
