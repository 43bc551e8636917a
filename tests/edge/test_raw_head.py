"""Raw-head detection models built here with TensorFlow (float and int8, both layouts, normalised and
pixel boxes), run by the edge Engine and CLI: decoding, NMS, labels from --labels or edgevision metadata.

Each model ignores its image (up to a negligible term) and emits a fixed head, so the expected
detections are known exactly: NMS must drop row 1 (same class, IoU ~0.9 with row 0), keep row 2
(same box, other class) and row 3, and the score threshold must drop rows 4 and 5.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from edge.engine import Engine
from edge.tasks import adapter_for

pytestmark = pytest.mark.slow

SIZE = 32  # model input width = height
ROWS = np.array(
    [  # cx, cy, w, h (normalised), scores of classes 0, 1, 2
        [0.30, 0.30, 0.20, 0.20, 0.90, 0.05, 0.05],
        [0.31, 0.30, 0.20, 0.20, 0.80, 0.05, 0.05],
        [0.31, 0.30, 0.20, 0.20, 0.05, 0.70, 0.05],
        [0.70, 0.60, 0.30, 0.40, 0.05, 0.05, 0.60],
        [0.50, 0.50, 0.10, 0.10, 0.05, 0.10, 0.05],
        [0.10, 0.90, 0.05, 0.05, 0.02, 0.02, 0.02],
    ],
    dtype=np.float32,
)
# Real heads have hundreds of anchors; pad to 40 so the layout is unambiguous (N much larger than 4 + C).
ROWS = np.concatenate([ROWS, np.tile([[0.5, 0.5, 0.05, 0.05, 0.01, 0.01, 0.01]], (34, 1)).astype(np.float32)])
EXPECTED = [(0, 0.90, (0.20, 0.20, 0.40, 0.40)), (1, 0.70, (0.21, 0.20, 0.41, 0.40)), (2, 0.60, (0.55, 0.40, 0.85, 0.80))]
FRAME_W, FRAME_H = 80, 60
LABELS = ("ring", "cube", "cone")


def _head(layout: str, units: str) -> np.ndarray:
    rows = ROWS.copy()
    if units == "pixels":
        rows[:, :4] *= SIZE
    head = rows[None]  # [1, N, 4 + C]
    return np.transpose(head, (0, 2, 1)) if layout == "channels_first" else head


def _convert(head: np.ndarray, quant: str) -> bytes:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    const = tf.constant(head)

    @tf.function(input_signature=[tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32)])
    def model(image):
        return {"detections": const + 1e-6 * tf.reduce_mean(image)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    if quant == "int8":
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([rng.random((1, SIZE, SIZE, 3), np.float32)] for _ in range(4))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
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


VARIANTS = [(q, layout, units) for q in ("float", "int8") for layout in ("anchors_first", "channels_first")
            for units in ("normalized", "pixels")]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("raw_heads")
    paths = {}
    for quant, layout, units in VARIANTS:
        path = folder / f"{quant}_{layout}_{units}.tflite"
        path.write_bytes(_convert(_head(layout, units), quant))
        paths[(quant, layout, units)] = path
    return paths


def _check(dets, atol_score: float, atol_px: float) -> None:
    assert [int(c) for c in dets.class_ids] == [e[0] for e in EXPECTED]
    np.testing.assert_allclose(dets.scores, [e[1] for e in EXPECTED], atol=atol_score)
    want = np.array([e[2] for e in EXPECTED]) * [FRAME_W, FRAME_H, FRAME_W, FRAME_H]
    np.testing.assert_allclose(dets.boxes, want, atol=atol_px)


@pytest.mark.parametrize("variant", VARIANTS, ids=["-".join(v) for v in VARIANTS])
def test_structure_only_models_decode(models, variant):
    quant, layout, units = variant
    engine = Engine(models[variant], threads=1)
    info = engine.info
    assert info.source == "structure" and info.task == "detect" and info.labels == ()
    assert info.decode["layout"] == layout
    assert info.input.dtype == ("int8" if quant == "int8" else "float32")
    frame = np.full((FRAME_H, FRAME_W, 3), 90, np.uint8)
    dets, _ = engine.run_frame(frame, adapter_for("detect"), {"score": 0.3, "iou": 0.5})
    pixel_step = SIZE / 127 if units == "pixels" else 1 / 127  # one int8 step of the output
    _check(dets, atol_score=0.02 if quant == "float" else 2 * pixel_step, atol_px=0.5 if quant == "float" else 3.0)


def test_cli_needs_labels_without_metadata(models, tmp_path, cli):
    import cv2

    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.full((FRAME_H, FRAME_W, 3), 90, np.uint8))
    model = str(models[("float", "anchors_first", "normalized")])
    proc = cli("run", "--model", model, "--source", str(image))
    assert proc.returncode == 2 and "give --labels FILE" in proc.stderr and "Traceback" not in proc.stderr
    labels, out = tmp_path / "labels.txt", tmp_path / "out.jsonl"
    labels.write_text("\n".join(LABELS) + "\n")
    proc = cli("run", "--model", model, "--source", str(image), "--labels", str(labels), "--sink", f"jsonl://{out}")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out.read_text())
    assert [d["label"] for d in rec["detections"]] == list(LABELS)
    assert rec["detections"][0]["box"] == pytest.approx([16.0, 12.0, 32.0, 24.0], abs=0.2)


def test_edgevision_metadata_letterbox(models, tmp_path):
    src = models[("int8", "channels_first", "pixels")]
    name = Engine(src).output_names[0]
    meta = {
        "format": "edgevision-metadata", "version": 1, "task": "detect", "labels": list(LABELS),
        "input": {"width": SIZE, "height": SIZE, "channels": 3, "color": "RGB", "resize": "letterbox",
                  "mean": [0, 0, 0], "std": [255, 255, 255]},
        "decode": {"kind": "raw_boxes_scores", "layout": "channels_first", "box_format": "cxcywh",
                   "box_units": "pixels", "score_activation": "none"},
        "outputs": [{"name": name, "role": "raw_boxes_scores", "shape": [1, 7, 40]}],
        "quantization": "int8",
    }
    path = tmp_path / "with_meta.tflite"
    path.write_bytes(_with_edgevision(src.read_bytes(), meta))
    engine = Engine(path)
    assert engine.info.source == "edgevision" and engine.info.labels == LABELS
    assert engine.info.input.resize == "letterbox"
    frame = np.full((FRAME_H, FRAME_W, 3), 90, np.uint8)  # 80x60 -> 32x24 inside 32x32, 4 px bands
    dets, _ = engine.run_frame(frame, adapter_for("detect"), {"score": 0.3})
    assert [dets.label(i) for i in range(len(dets))] == list(LABELS)
    x0, y0, x1, y1 = dets.boxes[0]  # row 0: 0.2..0.4 of the input -> frame x 16..32, y (6.4-4)/0.4..(12.8-4)/0.4
    np.testing.assert_allclose([x0, y0, x1, y1], [16.0, 6.0, 32.0, 22.0], atol=2.0)
