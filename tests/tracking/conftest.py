"""Fixtures for the tracking tests: the zoo SSD, the person clip, the MOT15 detections."""

from __future__ import annotations

from pathlib import Path

import pytest

SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"
CLIP = "video/one-by-one-person-detection.mp4"


@pytest.fixture(scope="session")
def ssd(zoo) -> Path:
    return zoo / SSD


@pytest.fixture(scope="session")
def clip(zoo) -> Path:
    return zoo / CLIP
