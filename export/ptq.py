"""Post-training quantisation settings that are not a format row: how many calibration samples are enough.

The PTQ formats themselves (float16, dynamic, int8 with uint8 or int8 I/O, int16x8) are rows of
``export.formats.FORMATS``; calibrated rows draw their samples from the run's own training split.
"""

from __future__ import annotations

from .errors import CalibrationError

# Fewer images than this give activation ranges that depend on which images were picked (the converter keeps
# min/max per tensor); TensorFlow's guide suggests a few hundred. The minimum is a floor, not a recommendation.
MIN_CALIB_SAMPLES = 10


def check_calibration_count(requested: int, available: int, source: str) -> None:
    """Raise CalibrationError naming the number and the minimum when calibration cannot be trusted."""
    if requested < MIN_CALIB_SAMPLES:
        raise CalibrationError(f"--calib-samples {requested} is too few; calibration needs at least "
                               f"{MIN_CALIB_SAMPLES} representative samples")
    if available < MIN_CALIB_SAMPLES:
        raise CalibrationError(f"{source}: the training split has {available} images; calibration needs at least "
                               f"{MIN_CALIB_SAMPLES}")
