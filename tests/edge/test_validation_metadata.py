"""Metadata read from a model is checked when the model loads: an input normalisation that cannot work
(std 0 or not finite, mean/std lengths that fit no channel count), an unknown colour order, a size that
differs from the tensor, and a label list shorter than the class count the outputs declare.

The metadata is our ``edgevision`` JSON on the zoo SSD (its real tensors and outputs); the fast cases put
it on the parsed file, the slow one embeds it into a .tflite and runs ``edge run`` on it."""

from __future__ import annotations

import copy
import json

import pytest

from edge.errors import MetadataError
from edge.metadata import model_info
from edge.model_checks import check_labels_cover
from edge.model_file import read_model_file

SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"
OUT = "TFLite_Detection_PostProcess"
GOOD = {
    "format": "edgevision-metadata", "task": "detect", "labels": ["a", "b", "c"],
    "input": {"width": 300, "height": 300, "color": "RGB", "resize": "stretch",
              "mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5]},
    "outputs": [{"name": OUT, "role": "boxes"}, {"name": f"{OUT}:1", "role": "classes"},
                {"name": f"{OUT}:2", "role": "scores"}, {"name": f"{OUT}:3", "role": "count"}],
    "decode": {"kind": "ssd_postprocess"},
}


def _with(meta_change):
    meta = copy.deepcopy(GOOD)
    meta_change(meta)
    return meta


def _set(key, value):
    return lambda m: m["input"].__setitem__(key, value)


BAD = [
    ("std-zero", _set("std", [0.0, 0.0, 0.0]), ["input.std", "non-zero"]),
    ("std-one-zero", _set("std", [127.5, 0, 127.5]), ["input.std", "non-zero"]),
    ("std-nan", _set("std", [float("nan")] * 3), ["input.std", "finite"]),
    ("std-inf", _set("std", [float("inf")] * 3), ["input.std", "finite"]),
    ("mean-inf", _set("mean", [float("-inf")] * 3), ["input.mean", "finite"]),
    ("mean-length", _set("mean", [1.0, 2.0]), ["input.mean has 2 values", "expected 1 or 3"]),
    ("std-length", _set("std", [1.0, 2.0, 3.0, 4.0]), ["input.std has 4 values"]),
    ("std-text", _set("std", ["wide"] * 3), ["bad field in 'input'"]),
    ("color", _set("color", "YUV"), ["input.color = 'YUV'", "RGB, BGR, GRAY"]),
    ("size", _set("width", 320), ["input is 320x300", "300x300"]),
    ("resize", _set("resize", "crop"), ["input.resize 'crop'"]),
    ("format", lambda m: m.__setitem__("format", "other"), ["'format' must be 'edgevision-metadata'"]),
    ("output-name", lambda m: m["outputs"][0].__setitem__("name", "nope"), ["'nope' is not an output tensor"]),
]


@pytest.fixture(scope="module")
def ssd_file(zoo):
    return read_model_file(zoo / SSD)


def test_good_metadata_loads(ssd_file):
    ssd_file.metadata = {"edgevision": json.dumps(GOOD).encode()}
    info = model_info(ssd_file)
    assert info.source == "edgevision" and info.input.std == (127.5,) * 3


@pytest.mark.parametrize("change, needles", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_metadata_is_a_named_error_at_load(change, needles, ssd_file):
    ssd_file.metadata = {"edgevision": json.dumps(_with(change)).encode()}
    with pytest.raises(MetadataError) as err:
        model_info(ssd_file)
    text = str(err.value)
    assert text.startswith(f"{ssd_file.path}: metadata 'edgevision'"), text
    for needle in needles:
        assert needle in text, text


def test_labels_shorter_than_the_declared_class_count(ssd_file):
    meta = _with(lambda m: m.update(outputs=[{"name": OUT, "role": "raw_boxes_scores", "shape": [1, 500, 10]}],
                                    decode={"kind": "raw_boxes_scores", "layout": "anchors_first"}))
    ssd_file.metadata = {"edgevision": json.dumps(meta).encode()}
    info = model_info(ssd_file)
    with pytest.raises(MetadataError, match=r"has 6 classes .* only 3 labels"):
        check_labels_cover(info)
    check_labels_cover(info.with_overrides(labels=tuple("abcdef"), labels_source="test"))  # 6 labels: fine


@pytest.mark.slow
def test_std_zero_in_a_real_file_through_edge_run(zoo, tmp_path, cli):
    from export.metadata import embed_metadata

    original = read_model_file(zoo / SSD)
    model = tmp_path / "std0.tflite"
    body = embed_metadata(original.data, _with(_set("std", [0.0, 0.0, 0.0])))
    model.write_bytes(body + original.data[original.flatbuffer_size:])  # keep the appended label zip
    out = tmp_path / "out.jsonl"
    proc = cli("run", "--model", str(model), "--source", str(zoo / "images/cat.bmp"), "--sink", f"jsonl://{out}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edge run: error:")]
    assert len(errors) == 1 and "std0.tflite" in errors[0] and "input.std" in errors[0], proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("scale", [0.0, float("nan"), -0.5])
def test_input_quantization_scale_that_cannot_work(scale, zoo):
    """A quantized input whose scale is 0, NaN or negative (a damaged file) is named, not a ZeroDivisionError."""
    from dataclasses import replace

    mf = read_model_file(zoo / SSD)
    mf.metadata = {}  # the structure alone decides the input normalisation
    index = mf.main.inputs[0]
    mf.main.tensors[index] = replace(mf.main.tensors[index], scales=(scale,))
    with pytest.raises(MetadataError, match=r"input tensor .*quantization scale .*expected a positive finite number"):
        model_info(mf)
