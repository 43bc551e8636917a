"""export's summary lines (export/pipeline.py::summary) fit the task: headline metrics, or what an unpaired
enhancement run measured; top-5 only above 5 classes; int8 deltas with the count of changed predictions."""

from __future__ import annotations

from export.pipeline import ExportReport, FormatResult, summary


def _fmt(fmt: str, metrics: dict, predictions=()) -> FormatResult:
    return FormatResult(format=fmt, path=f"/m/{fmt}.tflite", size_bytes=2048, quantization=fmt,
                        input={"dtype": "uint8"}, output={"dtype": "int8"}, parity_max_abs_diff=0.0,
                        parity_mean_abs_diff=0.0, parity_tolerance=None, parity_ok=True, seconds=1.0,
                        metrics=metrics, latency_p50_ms=1.0, predictions=list(predictions))


def test_classifier_with_two_classes_shows_top1_and_the_changed_predictions():
    f32 = _fmt("float32", {"top1": 0.60, "top5": 1.0}, [0] * 145 + [1] * 8)
    i8 = _fmt("int8", {"top1": 0.6523, "top5": 1.0}, [0] * 145 + [0] * 8)
    text = summary(ExportReport("r", "/r", "/r/export", 1, "classify", num_labels=2, formats=[f32, i8]))
    assert "top5" not in text
    assert text.splitlines()[-1] == "int8 - float32: top1 +5.23 points, 8 of 153 predictions changed"


def test_top5_stays_above_five_classes():
    f32, i8 = _fmt("float32", {"top1": 0.5, "top5": 0.9}), _fmt("int8", {"top1": 0.5, "top5": 0.8})
    text = summary(ExportReport("r", "/r", "/r/export", 1, "classify", num_labels=10, formats=[f32, i8]))
    assert "top5 -10.00 points" in text


def test_unpaired_enhancement_shows_what_it_measured():
    f32 = _fmt("float32", {"mean_in": 0.12, "mean_out": 0.4050})
    i8 = _fmt("int8", {"mean_in": 0.12, "mean_out": 0.39})
    text = summary(ExportReport("r", "/r", "/r/export", 1, "enhance", formats=[f32, i8]))
    assert "n/a" not in text and "mean_out  40.50" in text
    assert text.splitlines()[-1] == "int8 - float32: mean_in +0.00 points, mean_out -1.50 points"
    lone = summary(ExportReport("r", "/r", "/r/export", 1, "enhance", formats=[_fmt("float32", {})]))
    assert "int8 - float32" not in lone and "not scored" in lone
