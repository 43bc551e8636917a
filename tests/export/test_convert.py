"""Every row of the format table converts for real; metadata round-trips. A few-layer model keeps it fast."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from tensorflow.lite.tools import flatbuffer_utils

from export import calibration, convert, metadata
from train import detect_entry
from export.errors import CalibrationError, ExportError
from export.formats import FORMATS
from export.run_folder import Run, load_run

SIZE, CALIB_SAMPLES = 32, 16


@pytest.fixture(scope="module")
def run(tiny_run) -> Run:
    spec = load_run(tiny_run).spec
    spec = {**spec, "input": {**spec["input"], "width": SIZE, "height": SIZE}}
    return Run(path=tiny_run, spec=spec)


@pytest.fixture(scope="module")
def model(head_model_factory):
    return head_model_factory(SIZE)


@pytest.fixture(scope="module")
def converted(run, model):
    """format name -> TFLite bytes; calibrated formats use 16 of the run's training images."""
    chosen = calibration.pick(detect_entry.training_records(run), CALIB_SAMPLES)
    rep = convert.representative_from(calibration.load_samples([r.image for r in chosen], run))
    return {name: convert.convert(model, fmt, rep if fmt.calibrate else None, run.input)
            for name, fmt in FORMATS.items()}


def _io(model_bytes):
    runner = Interpreter(model_content=model_bytes).get_signature_runner()
    (_, inp), = runner.get_input_details().items()
    return inp, runner.get_output_details()["detections"]


@pytest.mark.parametrize("name, in_dtype, out_dtype", [
    ("float32", np.float32, np.float32),
    ("float16", np.float32, np.float32),
    ("dynamic", np.float32, np.float32),
    ("int8", np.uint8, np.int8),
])
def test_every_format_converts_and_runs(converted, name, in_dtype, out_dtype):
    inp, out = _io(converted[name])
    assert inp["dtype"] == in_dtype and out["dtype"] == out_dtype
    assert list(inp["shape"]) == [1, SIZE, SIZE, 3] and list(out["shape"]) == [1, 64, 6]


def test_quantised_formats_are_smaller(converted):
    size = {name: len(b) for name, b in converted.items()}
    assert size["float16"] < size["float32"] and size["int8"] < size["float32"]


def test_int8_is_full_integer_and_takes_raw_pixels(converted):
    assert convert.float_ops(converted["int8"]) == []
    assert "CONV_2D" in convert.float_ops(converted["float32"])
    inp, out = _io(converted["int8"])
    scale, zero = inp["quantization"]
    # mean 0 / std 255: the uint8 input is pinned to the pixel grid, so raw pixels feed it
    assert scale == np.float32(1 / 255) and zero == 0
    assert out["quantization"] == (1 / 256, -128)  # sigmoid output: 0..1 in one int8 scale


def test_pinned_input_matches_calibrated_input(run, model, converted):
    """Pinning the input grid changes no result: raw pixels in the pinned model == quantised input before."""
    chosen = calibration.pick(detect_entry.training_records(run), CALIB_SAMPLES)
    rep = convert.representative_from(calibration.load_samples([r.image for r in chosen], run))
    unpinned = convert.convert(model, FORMATS["int8"], rep)  # no input spec: left as calibrated
    (scale, zero) = _io(unpinned)[0]["quantization"]
    assert scale != np.float32(1 / 255)
    frame = calibration.read_bgr(detect_entry.validation_records(run)[0].image)
    pixels = np.round(calibration.preprocess(frame, run.input) * 255).astype(np.uint8)[None]
    quantised = np.clip(np.round(pixels / 255.0 / scale + zero), 0, 255).astype(np.uint8)
    a = Interpreter(model_content=converted["int8"]).get_signature_runner()(image=pixels)["detections"]
    b = Interpreter(model_content=unpinned).get_signature_runner()(image=quantised)["detections"]
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_calibrated_format_without_samples_is_an_error(model):
    with pytest.raises(CalibrationError, match="'int8' needs calibration samples"):
        convert.convert(model, FORMATS["int8"], None)


@pytest.mark.parametrize("count, expected", [(1, 1), (16, 16), (24, 24), (500, 24)])
def test_pick_is_reproducible_and_bounded(count, expected):
    items = list(range(24))
    first = calibration.pick(items, count, seed=3)
    assert len(first) == expected and first == calibration.pick(items, count, seed=3) and first == sorted(first)


def test_pick_rejects_zero():
    with pytest.raises(CalibrationError, match="count 0"):
        calibration.pick([1, 2], 0)


def test_signature_outputs_name_the_real_tensor(converted):
    for name, model_bytes in converted.items():
        (sig,) = metadata.signature_outputs(model_bytes)
        assert sig.key == "detections" and sig.tensor == _io(model_bytes)[1]["name"], name
        assert sig.shape == (1, 64, 6)


def test_metadata_round_trip(converted, run):
    raw = converted["int8"]
    meta = metadata.build_metadata(run, "int8", raw)
    embedded = metadata.embed_metadata(raw, meta)
    assert metadata.read_metadata(raw) is None
    assert metadata.read_metadata(embedded) == meta
    assert meta["outputs"] == [{"name": _io(raw)[1]["name"], "role": "raw_boxes_scores", "shape": [1, 64, 6]}]
    assert meta["format"] == "edgevision-metadata" and meta["version"] == 1 and meta["task"] == "detect"
    assert meta["labels"] == run.labels and meta["input"] == run.input and meta["decode"] == run.spec["decode"]
    assert meta["quantization"] == "int8" and meta["run"]["path"] == str(run.path)
    assert meta["run"]["name"] == "tiny" and meta["producer"].startswith("edgevision ")
    # embedding again replaces the entry; the model still runs and gives the same output
    again = metadata.embed_metadata(embedded, {**meta, "quantization": "changed"})
    names = [m.name for m in flatbuffer_utils.read_model_from_bytearray(bytearray(again)).metadata]
    assert names.count(b"edgevision") == 1
    assert metadata.read_metadata(again)["quantization"] == "changed"
    x = np.random.default_rng(0).integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8)
    outs = [Interpreter(model_content=b).get_signature_runner()(image=x)["detections"] for b in (raw, again)]
    np.testing.assert_array_equal(outs[0], outs[1])


def test_edge_reads_the_metadata(converted, run, tmp_path):
    from edge.metadata import model_info
    from edge.model_file import read_model_file

    raw = converted["float32"]
    path = tmp_path / "m.tflite"
    path.write_bytes(metadata.embed_metadata(raw, metadata.build_metadata(run, "float32", raw)))
    info = model_info(read_model_file(path))
    assert info.source == "edgevision" and info.task == "detect" and info.labels == tuple(run.labels)
    assert info.quantization == "float32" and info.input_size == (SIZE, SIZE)
    assert [o.name for o in info.outputs] == [_io(raw)[1]["name"]]
    assert info.output("raw_boxes_scores").shape == (1, 64, 6)


def test_metadata_rejects_an_output_the_model_lacks(converted, run):
    bad = Run(path=run.path, spec={**run.spec, "outputs": [{"name": "boxes", "role": "raw_boxes_scores"}]})
    with pytest.raises(ExportError, match=r"output 'boxes' is not an output.*\['detections'\]"):
        metadata.build_metadata(bad, "float32", converted["float32"])


def _run_tflite(model_bytes: bytes, x: np.ndarray) -> dict[str, np.ndarray]:
    interp = Interpreter(model_content=model_bytes)
    runner = interp.get_signature_runner("serving_default")
    return runner(**{next(iter(runner.get_input_details())): x})


def test_the_serving_graph_follows_the_weights_and_keeps_every_output_name():
    """Formats of one model share one saved serving graph; weights changed since are saved anew (never a
    stale model), and a two-output model keeps both Keras output names as the signature's outputs."""
    import tf_keras as keras

    keras.utils.set_random_seed(1)
    image = keras.Input((16, 16, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(image)
    heat = keras.layers.Conv2D(2, 1, name="heatmaps")(x)
    offs = keras.layers.Conv2D(4, 1, name="offsets")(x)
    model = keras.Model(image, [heat, offs])
    as_dict = keras.Model(image, {"heatmaps": heat, "offsets": offs})  # how our pose model names its outputs
    assert set(_run_tflite(convert.convert(as_dict, FORMATS["float32"]), np.zeros((1, 16, 16, 3), np.float32))) == {
        "heatmaps", "offsets"}
    x = np.random.default_rng(0).random((1, 16, 16, 3)).astype(np.float32)

    first = convert.convert(model, FORMATS["float32"])
    graph = convert.serving_graph(model)
    assert convert.serving_graph(model) is graph  # the next format reuses it
    out = _run_tflite(first, x)
    assert set(out) == {"heatmaps", "offsets"}
    want = dict(zip(model.output_names, (t.numpy() for t in model(x))))
    for name in out:
        np.testing.assert_allclose(out[name], want[name], atol=1e-5)

    model.get_layer("offsets").set_weights([w + 1.0 for w in model.get_layer("offsets").get_weights()])
    second = convert.convert(model, FORMATS["float32"])
    assert convert.serving_graph(model) is not graph
    np.testing.assert_allclose(_run_tflite(second, x)["offsets"], model(x)[1].numpy(), atol=1e-5)
    assert not np.allclose(_run_tflite(second, x)["offsets"], out["offsets"])
