"""Bad input through the real CLI: one error line naming the file and the problem, exit 2, no traceback."""

from __future__ import annotations

import pytest

SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"


def _setup(kind: str, zoo, tmp):
    """-> (model, source, extra args) for one bad-input case."""
    ssd = str(zoo / SSD)
    image = str(zoo / "images/cat.bmp")
    if kind == "truncated":
        path = tmp / "truncated.tflite"
        path.write_bytes((zoo / SSD).read_bytes()[:500_000])
        return str(path), image, []
    if kind == "jpeg-renamed":
        path = tmp / "photo.tflite"
        path.write_bytes((zoo / "images/cats_and_dogs.jpg").read_bytes())
        return str(path), image, []
    if kind == "text-as-video":
        path = tmp / "notes.mp4"
        path.write_text("this is not a video\n")
        return ssd, str(path), []
    if kind == "missing-source":
        return ssd, str(tmp / "absent.mp4"), []
    models = {"edgetpu-model": "mobilenet_v1_0.25_128_quant_edgetpu_NEGATIVE.tflite",
              "custom-op": "invalid_model_invoking_error.tflite"}
    if kind in models:
        return str(zoo / "models" / models[kind]), image, []
    delegates = {"no-lib": "/nonexistent/libfoo.so", "gpu": "gpu", "edgetpu": "edgetpu", "unknown": "tpu"}
    return ssd, image, ["--delegate", delegates[kind]]


CASES = [
    ("truncated", ["truncated.tflite", "truncated or corrupt TFLite model"]),
    ("jpeg-renamed", ["photo.tflite", "not a TFLite model", "TFL3"]),
    ("edgetpu-model", ["_edgetpu_NEGATIVE.tflite", "edgetpu-custom-op", "needs an Edge TPU", "--delegate edgetpu"]),
    ("custom-op", ["invalid_model_invoking_error.tflite", "'fake-op-double'"]),
    ("no-lib", ["/nonexistent/libfoo.so", "cannot load"]),
    ("gpu", ["delegate 'gpu'", "libtensorflowlite_gpu_delegate.so", "install"]),
    ("edgetpu", ["delegate 'edgetpu'", "libedgetpu.so.1", "libedgetpu1-std"]),
    ("unknown", ["--delegate tpu", "cpu, xnnpack, builtin, gpu, edgetpu"]),
    ("text-as-video", ["notes.mp4", "cannot open as a video"]),
    ("missing-source", ["absent.mp4", "no such file"]),
]


@pytest.mark.parametrize("kind, needles", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clean_line(kind, needles, zoo, tmp_path, cli):
    model, source, extra = _setup(kind, zoo, tmp_path)
    out = tmp_path / "out.jsonl"
    proc = cli("run", "--model", model, "--source", source, "--sink", f"jsonl://{out}", *extra)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edge run: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0]


def test_fallback_is_explicit_and_reported(zoo, tmp_path, cli):
    out = tmp_path / "out.jsonl"
    proc = cli("run", "--model", str(zoo / SSD), "--source", str(zoo / "images/cat.bmp"),
                   "--sink", f"jsonl://{out}", "--delegate", "gpu", "--fallback", "cpu", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "fell back to cpu" in proc.stderr and "libtensorflowlite_gpu_delegate.so" in proc.stderr
    assert "delegate cpu" in proc.stderr


def test_full_disk_is_a_sink_error(zoo, cli):
    proc = cli("run", "--model", str(zoo / SSD), "--source", str(zoo / "images/cat.bmp"),
                   "--sink", "jsonl:///dev/full")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "edge run: error: /dev/full: write failed (No space left on device)" in proc.stderr
