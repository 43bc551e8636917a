"""`--target` through the CLI on a trained tiny run: the files each target gets, op coverage, the Edge TPU compiler
message; and the GPU fallback report on a model with an op the GPU delegate cannot run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from export.cli import main
from export.targets import EDGETPU_COMPILER_HELP, gpu_coverage


@pytest.fixture(scope="module")
def targeted(trained_run, tmp_path_factory):
    """One export for all four targets (a conversion per format, shared by the tests below); what it printed."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("targets")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main([str(trained_run), "--formats", "float32", "--target", "cpu,gpu,edgetpu,nnapi",
                   "--calib-samples", "16", "--out", str(out), "--no-eval", "--parity-images", "2"])
    assert rc == 0
    report = json.loads((out / "export.json").read_text())
    return {f["format"]: f for f in report["formats"]}, out, printed.getvalue()


def test_each_target_adds_its_formats(targeted):
    report, out, _ = targeted
    assert list(report) == ["float32", "int8", "float16", "int8_uint8io"]
    assert sorted(p.name for p in out.glob("*.tflite")) == [f"model_{n}.tflite" for n in sorted(report)]


@pytest.mark.skipif(shutil.which("edgetpu_compiler") is not None, reason="edgetpu_compiler is installed here")
def test_edgetpu_full_int8_uint8_io_coverage_and_how_to_get_the_compiler(targeted):
    report, tmp_path, printed = targeted
    tpu = report["int8_uint8io"]
    assert (tmp_path / "model_int8_uint8io.tflite").is_file()
    assert tpu["input"]["dtype"] == "uint8" and tpu["output"]["dtype"] == "uint8"
    assert tpu["coverage"]["edgetpu"].startswith("edgetpu: ") and " op types supported" in tpu["coverage"]["edgetpu"]
    assert tpu["coverage"]["edgetpu_compiler"] == EDGETPU_COMPILER_HELP
    assert "edgetpu_compiler is not on PATH, so the model was not compiled for the Edge TPU" in printed
    assert "sudo apt-get install edgetpu-compiler" in printed and "edgetpu_compiler -s" in printed
    assert not list(tmp_path.glob("*_edgetpu.tflite"))
    assert shutil.which("edgetpu_compiler") is None  # nothing was installed behind the user's back


def test_gpu_float16_and_compatibility_report(targeted):
    report, tmp_path, _ = targeted
    assert (tmp_path / "model_float16.tflite").is_file()
    gpu = report["float16"]
    assert gpu["quantization"] == "float16" and gpu["input"]["dtype"] == "float32"
    assert gpu["coverage"]["gpu"].startswith("gpu: ") and " op types supported" in gpu["coverage"]["gpu"]
    assert "gpu" not in report["float32"]["coverage"]  # coverage is reported for the target's own format


def test_nnapi_int8_and_coverage(targeted):
    report, tmp_path, _ = targeted
    nn = report["int8"]
    assert (tmp_path / "model_int8.tflite").is_file() and nn["quantization"] == "int8"
    assert nn["input"]["dtype"] == "uint8" and nn["coverage"]["nnapi"].startswith("nnapi: ")


def test_cpu_float32_and_int8(targeted):
    report, _, _ = targeted
    assert [name for name, f in report.items() if "cpu" in f["coverage"]] == ["float32", "int8"]
    for name in ("float32", "int8"):
        assert report[name]["coverage"]["cpu"].startswith("cpu: ") and "falls back" not in report[name]["coverage"]["cpu"]


def _tflite_with_topk() -> bytes:
    """A float model whose graph ends in TOPK_V2, an op TFLite's GPU delegate has no kernel for."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def model(x):
        y = tf.nn.relu(x * 2.0 + 1.0)
        return tf.math.top_k(tf.reshape(y, [1, -1]), k=3).values

    return tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert()


def test_gpu_fallback_names_the_op_and_the_reason():
    import contextlib
    import io

    import tensorflow as tf

    data = _tflite_with_topk()
    analyzer = io.StringIO()
    with contextlib.redirect_stdout(analyzer):
        tf.lite.experimental.Analyzer.analyze(model_content=data, gpu_compatibility=True)
    # What the analyzer says first: in this TensorFlow build it sees TOPK_V2 and still calls the model compatible.
    assert "TOPK_V2" in analyzer.getvalue() and "looks compatible with GPU delegate" in analyzer.getvalue()
    cov = gpu_coverage(data, "topk.tflite")
    assert cov.unsupported == {"TOPK_V2": "not supported by the GPU delegate (not in its op list)"}
    assert {"MUL", "ADD", "RESHAPE"} <= set(cov.supported)  # the ReLU is fused into ADD
    assert cov.summary().endswith("falls back: TOPK_V2 (not supported by the GPU delegate (not in its op list))")
    assert any("analyzer called this model compatible" in n for n in cov.notes)
    assert 0 < cov.fraction < 1


def test_gpu_coverage_of_a_supported_model_has_no_fallback():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def model(x):
        return tf.nn.relu(x * 2.0 + np.float32(1.0))

    data = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert()
    cov = gpu_coverage(data, "plain.tflite")
    assert cov.unsupported == {} and cov.fraction == 1.0
