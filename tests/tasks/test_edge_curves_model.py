"""A real TFLite model that outputs Zero-DCE++-style curve maps at reduced resolution, with edgevision
metadata, run by the Engine and the enhance adapter: the maps must be applied to the frame at full
resolution, in the right colour order, the number of times the metadata says.

The model ignores its image (up to a negligible term) and emits fixed maps, so the expected frame is known.
"""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from edge.engine import Engine
from edge.tasks import adapter_for
from edge.tasks.enhance_curves import apply_curve_maps, to_unit

pytestmark = pytest.mark.slow

IN_W, IN_H = 48, 32
MAP_W, MAP_H = 12, 8
ITERATIONS = 4


def _maps() -> np.ndarray:
    """[1, 8, 12, 3] in RGB order: red strongly brightened, green mildly, blue darkened; a left-right ramp."""
    ramp = np.linspace(0.5, 1.0, MAP_W, dtype=np.float32)[None, :, None]
    base = np.array([0.9, 0.3, -0.2], np.float32)[None, None, :]
    return np.broadcast_to(ramp * base, (MAP_H, MAP_W, 3))[None].copy()


def _convert(maps: np.ndarray) -> bytes:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    const = tf.constant(maps)

    @tf.function(input_signature=[tf.TensorSpec([1, IN_H, IN_W, 3], tf.float32)])
    def model(image):
        return {"curves": const + 1e-6 * tf.reduce_mean(image)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    return converter.convert()


def _with_edgevision(model_bytes: bytes, meta: dict) -> bytes:
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    buf = schema.BufferT()
    buf.data = list(json.dumps(meta).encode("utf-8"))
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name, entry.buffer = "edgevision", len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


@pytest.fixture(scope="module")
def curve_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("curves")
    plain = folder / "plain.tflite"
    plain.write_bytes(_convert(_maps()))
    name = Engine(plain).output_names[0]
    meta = {
        "format": "edgevision-metadata", "version": 1, "task": "enhance", "labels": [],
        "input": {"width": IN_W, "height": IN_H, "channels": 3, "color": "RGB", "resize": "stretch",
                  "mean": [0.0, 0.0, 0.0], "std": [255.0, 255.0, 255.0]},
        "outputs": [{"name": name, "role": "curves", "shape": [1, MAP_H, MAP_W, 3]}],
        "decode": {"kind": "curves", "iterations": ITERATIONS},
        "quantization": "float32",
    }
    path = folder / "curves.tflite"
    path.write_bytes(_with_edgevision(plain.read_bytes(), meta))
    return path


def test_curve_maps_from_a_real_model_apply_at_full_resolution(curve_model):
    engine = Engine(curve_model, threads=1)
    assert engine.info.task == "enhance" and engine.info.decode["kind"] == "curves"
    rng = np.random.default_rng(5)
    frame = rng.integers(10, 60, (240, 360, 3), dtype=np.uint8)  # 7.5x the model input, a dark frame
    result, timing = engine.run_frame(frame, adapter_for("enhance"), {})
    assert result.applied and result.image.shape == frame.shape
    # Independent expectation: BGR frame channel c takes the RGB map of channel 2 - c.
    expected = apply_curve_maps(to_unit(frame), _maps()[..., ::-1], ITERATIONS)
    assert np.abs(result.image.astype(float) - expected * 255).max() <= 1.0
    means = result.image.reshape(-1, 3).mean(axis=0)  # B, G, R
    assert means[2] > means[1] > frame.reshape(-1, 3).mean(axis=0)[1] > means[0]
    # The ramp runs left to right at full resolution: no 12-pixel-map blocks in the red channel.
    red_gain = result.image[..., 2].astype(float).mean(axis=0) - frame[..., 2].astype(float).mean(axis=0)
    smooth = cv2.blur(red_gain[None], (31, 1))[0]
    assert smooth[-20] > smooth[20]
    assert len(np.unique(np.round(apply_curve_maps(np.full((1, 360, 3), 0.1, np.float32), _maps(), 1)[0, :, 0],
                                  6))) > 100
