"""Fixtures for the pipeline tests: the zoo SSD, the person clip, GStreamer installed on demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from .pipeline_helpers import CLIP, SSD, ensure_tool


@pytest.fixture(scope="session")
def ssd(zoo) -> Path:
    return zoo / SSD


@pytest.fixture(scope="session")
def clip(zoo) -> Path:
    return zoo / CLIP


@pytest.fixture(scope="session")
def gst_launch() -> str:
    return ensure_tool("gst-launch-1.0", "gstreamer1.0-tools", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good")
