"""Low-light enhancement at the edge: the zoo Zero-DCE on darkened zoo images, the curve arithmetic, the gate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.engine import Engine
from edge.errors import ConfigError, MetadataError
from edge.metrics_tasks import psnr
from edge.tasks import adapter_for
from edge.tasks.enhance import Enhanced
from edge.tasks.enhance_curves import apply_curve_maps, mean_luminance


def darken(image: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dark = image.astype(np.float32) * 0.15 + rng.normal(0.0, 2.0, image.shape)
    return np.clip(np.rint(dark), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def zero_dce(zoo):
    engine = Engine(zoo / "models/lite-model_zero-dce_1.tflite", threads=2)
    engine.info = engine.info.with_overrides(task="enhance")
    return engine


@pytest.mark.parametrize("image", ["grace_hopper.bmp", "cats_and_dogs.jpg"])
def test_zero_dce_brightens_and_restores_a_darkened_image(zoo, zero_dce, image):
    original = cv2.imread(str(zoo / "images" / image))
    dark = darken(original)
    adapter = adapter_for("enhance")
    result, timing = zero_dce.run_frame(dark, adapter, {"enhance_below": 0.25})
    assert result.applied and timing["infer"] > 0
    assert result.image.shape == original.shape  # full frame resolution, not the model's 400x600
    assert result.mean_out > result.mean_in + 0.2
    assert result.mean_in == pytest.approx(mean_luminance(dark))
    assert psnr(result.image, original) > psnr(dark, original) + 5.0
    line = adapter.to_json(result)
    assert set(line["enhance"]) == {"mean_in", "mean_out", "applied"} and line["enhance"]["applied"] is True
    assert (adapter.render(dark, result) == result.image).all()


def test_gate_lets_bright_frames_through_without_the_model(zoo, zero_dce):
    original = cv2.imread(str(zoo / "images/grace_hopper.bmp"))
    adapter = adapter_for("enhance")
    zero_dce.last_invoke_ms = 123.0
    result, timing = zero_dce.run_frame(original, adapter, {"enhance_below": 0.25})
    assert mean_luminance(original) >= 0.25
    assert not result.applied and timing["infer"] == 0.0 and zero_dce.last_invoke_ms == 0.0
    assert (result.image == original).all() and result.mean_out == result.mean_in
    assert adapter.to_json(result)["enhance"]["applied"] is False
    # Without a gate every frame is enhanced, bright or not.
    result, _ = zero_dce.run_frame(original, adapter, {})
    assert result.applied


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_gate_outside_0_1_is_refused(zoo, zero_dce, value):
    frame = np.zeros((40, 60, 3), np.uint8)
    with pytest.raises(ConfigError, match="--enhance-below"):
        zero_dce.run_frame(frame, adapter_for("enhance"), {"enhance_below": value})


def test_decode_without_the_frame_is_refused(zero_dce):
    with pytest.raises(ConfigError, match="original frame"):
        adapter_for("enhance").decode({"Identity": np.zeros((1, 400, 600, 3), np.float32)}, zero_dce.info,
                                      (600, 400), {})


def le_reference(x: float, a: float, n: int) -> float:
    for _ in range(n):
        x = x + a * x * (1 - x)
    return x


@pytest.mark.parametrize("channels, iterations", [(3, None), (3, 4), (1, 2), (24, None), (24, 8)])
def test_curve_maps_match_the_scalar_formula(channels, iterations):
    rng = np.random.default_rng(4)
    image = rng.uniform(0, 1, (6, 8, 3)).astype(np.float32)
    value = 0.6
    curves = np.full((1, 3, 4, channels), value, np.float32)  # constant maps: upsampling changes nothing
    out = apply_curve_maps(image, curves, iterations)
    n = 8 if channels == 24 else (iterations or 8)
    expected = np.vectorize(lambda x: le_reference(x, value, n))(image)
    assert out.shape == image.shape
    assert out == pytest.approx(expected, abs=1e-5)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_curve_maps_upsample_bilinearly_to_full_resolution():
    image = np.full((4, 8, 3), 0.25, np.float32)
    curves = np.zeros((1, 1, 2, 3), np.float32)
    curves[0, 0, 1] = 1.0  # a = 0 on the left half, 1 on the right half of a 2-pixel-wide map
    out = apply_curve_maps(image, curves, 1)
    a = cv2.resize(curves[0], (8, 4), interpolation=cv2.INTER_LINEAR)
    assert out == pytest.approx(0.25 + a * 0.25 * 0.75)
    assert out[0, 0, 0] == pytest.approx(0.25) and out[0, 7, 0] == pytest.approx(0.25 + 0.1875)
    assert np.all(np.diff(out[0, :, 0]) >= 0)


def test_distinct_curves_are_applied_in_channel_order():
    image = np.full((2, 2, 3), 0.5, np.float32)
    curves = np.zeros((1, 2, 2, 6), np.float32)
    curves[..., :3] = 1.0  # first curve: 0.5 -> 0.75
    curves[..., 3:] = -1.0  # second: 0.75 -> 0.5625
    assert apply_curve_maps(image, curves) == pytest.approx(np.full((2, 2, 3), 0.5625))


@pytest.mark.parametrize("shape, iterations, message", [
    ((1, 2, 2, 4), None, "1, 3 or a multiple of 3"),
    ((1, 2, 2, 6), 3, "2 distinct curves"),
    ((2, 2, 2, 3), None, "batch size 1"),
    ((1, 2, 2, 3), 0, "at least 1"),
])
def test_bad_curve_maps_are_refused(shape, iterations, message):
    with pytest.raises(MetadataError, match=message):
        apply_curve_maps(np.zeros((4, 4, 3), np.float32), np.zeros(shape, np.float32), iterations)


def test_mean_luminance_uses_rec601_weights():
    frame = np.zeros((2, 2, 3), np.uint8)
    frame[..., 2] = 255  # pure red in BGR
    assert mean_luminance(frame) == pytest.approx(0.299)
    assert mean_luminance(np.full((3, 3), 51, np.uint8)) == pytest.approx(0.2)


def test_result_type_checks_the_image():
    with pytest.raises(ValueError, match="uint8"):
        Enhanced(np.zeros((4, 4, 3), np.float32), 0.1, 0.2, True)
