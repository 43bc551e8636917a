"""Pure pre-processing (resize, colour, quantization) and the file sources/sinks' error paths."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError, DelegateError, SinkError, SourceError
from edge.delegates import resolve
from edge.preprocess import resize_frame, to_input_tensor
from edge.sinks import open_sink
from edge.sources import open_source


@pytest.mark.parametrize("resize, size", [("stretch", (40, 40)), ("letterbox", (40, 40)), ("letterbox", (64, 32))])
def test_boxes_map_back_to_the_frame(resize, size):
    frame = np.zeros((60, 100, 3), np.uint8)
    frame[10:30, 20:50] = (0, 0, 255)  # a red block, BGR
    img, t = resize_frame(frame, size, resize, "RGB")
    assert img.shape == (size[1], size[0], 3)
    ys, xs = np.nonzero(img[..., 0] > 128)  # red is channel 0 after BGR -> RGB
    back = t.boxes_to_frame(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]) / [*size, *size])
    np.testing.assert_allclose(back[0], [20, 10, 50, 30], atol=100 / size[0] + 0.5)


def test_quantization_fast_path_equals_general_formula():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    fast = to_input_tensor(img, "uint8", (127.5,) * 3, (127.5,) * 3, 0.0078125, 128)
    np.testing.assert_array_equal(fast[0], img)  # raw pixels, no arithmetic
    general = np.clip(np.round((img - 127.5) / 127.5 / 0.0078125 + 128), 0, 255)
    assert np.abs(fast[0].astype(int) - general).max() <= 1
    int8 = to_input_tensor(img, "int8", (0,) * 3, (255,) * 3, 1 / 255, -128)
    np.testing.assert_array_equal(int8[0].astype(int), img.astype(int) - 128)
    assert int8.dtype == np.int8 and int8.shape == (1, 16, 16, 3)
    unscaled = to_input_tensor(img, "int8", (0,) * 3, (1,) * 3, 0.0, 0)  # int8 input without quantisation data
    assert unscaled.dtype == np.int8 and np.array_equal(unscaled[0].astype(int), img.astype(int) - 128)
    other = to_input_tensor(img, "int8", (0,) * 3, (255,) * 3, 0.02, 5)  # not an identity: real quantization
    np.testing.assert_array_equal(other[0], np.clip(np.round(img / 255 / 0.02 + 5), -128, 127).astype(np.int8))
    flt = to_input_tensor(img, "float32", (127.5,) * 3, (127.5,) * 3, 0.0, 0)
    assert flt.dtype == np.float32 and flt.min() == -1.0 and flt.max() == 1.0


@pytest.mark.parametrize("uri, error, needle", [
    ("ftp://host/x.mp4", SourceError, "unknown scheme 'ftp'"),
    ("file:///nonexistent/clip.mp4", SourceError, "/nonexistent/clip.mp4: no such file"),
])
def test_bad_sources(uri, error, needle):
    with pytest.raises(error, match=needle):
        open_source(uri)


def test_empty_folder_source(tmp_path):
    with pytest.raises(SourceError, match="holds no images"):
        open_source(str(tmp_path))


@pytest.mark.parametrize("uri, needle", [
    ("file:///nonexistent/dir/out.mp4", "does not exist"),
    ("file:///tmp/out.xyz", "cannot tell what to write"),
    ("bogus://x", "unknown scheme 'bogus'"),
    ("jsonl:///nonexistent/dir/out.jsonl", "cannot open for writing"),
])
def test_bad_sinks(uri, needle):
    with pytest.raises(SinkError, match=needle):
        open_sink(uri)


def test_unknown_delegate_lists_choices():
    with pytest.raises(DelegateError, match="cpu, xnnpack, builtin, gpu, edgetpu"):
        resolve("npu")
    assert resolve("/opt/lib/libvx_delegate.so").library == "/opt/lib/libvx_delegate.so"


def test_decode_transform_is_the_engines_or_the_stretch():
    from edge.preprocess import Transform, decode_transform

    engine = Transform((640, 480), (320, 320), 0.5, 0.5, 0.0, 40.0)
    assert decode_transform({"transform": engine}, (1, 1), (320, 320)) is engine
    stretch = decode_transform({}, (640, 480), (320, 240))
    assert (stretch.scale_x, stretch.scale_y, stretch.pad_x, stretch.pad_y) == (0.5, 0.5, 0.0, 0.0)
    np.testing.assert_allclose(stretch.boxes_to_frame([[0.5, 0.5, 1.0, 1.0]]), [[320, 240, 640, 480]])
    with pytest.raises(ConfigError, match=r"frame size \(0, 480\): expected a positive width and height"):
        decode_transform({}, (0, 480), (320, 240))
