"""Reading .tflite files directly: ops, tensors, metadata entries, appended zip, and bad files."""

from __future__ import annotations

import struct

import pytest

from edge.errors import ModelError
from edge.flatbuffer import FlatBufferError, Table
from edge.metadata import model_info
from edge.model_file import parse_model, read_model_file


def test_ssd_structure(ssd):
    mf = read_model_file(ssd)
    names = [op.name for op in mf.op_codes]
    assert "TFLite_Detection_PostProcess" in names and "CONV_2D" in names
    assert mf.custom_ops() == ["TFLite_Detection_PostProcess"]
    assert all(op.version >= 1 for op in mf.op_codes)
    (inp,) = mf.main.input_tensors()
    assert (inp.shape, inp.dtype, inp.scales, inp.zero_points) == ((1, 300, 300, 3), "uint8", (0.0078125,), (128,))
    assert list(mf.metadata) == ["TFLITE_METADATA"]
    assert mf.metadata["TFLITE_METADATA"][4:8] == b"M001"
    assert mf.associated_files["labelmap.txt"].startswith(b"person\nbicycle\n")


def test_builtin_versions_are_read(zoo):
    mf = read_model_file(zoo / "models/movenet_single_pose_lightning_ptq.tflite")
    versions = {op.name: op.version for op in mf.op_codes}
    assert versions["CONV_2D"] == 3 and versions["CAST"] == 1


def test_ssd_metadata_from_tflite_support(ssd):
    info = model_info(read_model_file(ssd))
    assert info.source == "tflite-support" and info.task == "detect"
    assert info.labels[:3] == ("person", "bicycle", "car") and len(info.labels) == 90
    assert "labelmap.txt" in info.labels_source
    assert info.input.mean == (127.5,) * 3 and info.input.std == (127.5,) * 3
    # the four outputs follow the post-processing op's output order, whatever their names
    assert [o.role for o in info.outputs] == ["boxes", "classes", "scores", "count"]
    assert info.outputs[0].name == "TFLite_Detection_PostProcess"


def test_classifier_metadata_labels_from_axis_labels(zoo):
    info = model_info(read_model_file(zoo / "models/mobilenet_v2_1.0_224_quant.tflite"))
    assert len(info.labels) == 1001 and info.labels[0] == "background"


@pytest.mark.parametrize(
    "make, expect",
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b[:40_000], "truncated"),
        (lambda b: b[:10], "too short"),
        (lambda b: b"", "too short"),
        (lambda b: b[:4] + b"TFL2" + b[8:], "not a TFLite model"),
    ],
    ids=["half", "head", "10-bytes", "empty", "wrong-identifier"],
)
def test_bad_bytes_raise_model_error(ssd, tmp_path, make, expect):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(make(ssd.read_bytes()))
    with pytest.raises(ModelError, match=expect) as err:
        read_model_file(bad)
    assert str(bad) in str(err.value)


def test_jpeg_renamed_to_tflite(zoo, tmp_path):
    bad = tmp_path / "photo.tflite"
    bad.write_bytes((zoo / "images/cats_and_dogs.jpg").read_bytes())
    with pytest.raises(ModelError, match=r"photo.tflite: not a TFLite model .*expected b'TFL3'"):
        read_model_file(bad)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        read_model_file(tmp_path / "absent.tflite")


def test_flatbuffer_rejects_out_of_range_offsets():
    buf = struct.pack("<I", 1000) + b"TFL3" + b"\0" * 8
    with pytest.raises(FlatBufferError):
        Table.root(buf)
    with pytest.raises(ModelError, match="truncated or corrupt"):
        parse_model(buf + b"\0" * 8, "x.tflite")
