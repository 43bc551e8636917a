"""edge bench on the zoo models, its report, the reference comparison, and the remote run over loopback ssh."""

from __future__ import annotations

import json
import shutil

import cv2
import pytest

from edge.bench_compare import compare, verdict
from edge.bench_system import decode_throttled, governor_warning, temperatures
from edge.board import Reference
from edge.cli import main as edge_main

SSD = "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"


@pytest.mark.parametrize(
    "measured, reference, tolerance, expected",
    [(10.0, 10.0, 0.5, "pass"), (5.0, 10.0, 0.5, "pass"), (15.0, 10.0, 0.5, "pass"), (15.1, 10.0, 0.5, "warn"),
     (20.0, 10.0, 0.5, "warn"), (20.1, 10.0, 0.5, "fail"), (300.0, 100.0, 1.0, "warn"), (301.0, 100.0, 1.0, "fail")],
)
def test_verdict_table(measured, reference, tolerance, expected):
    result, ratio = verdict(measured, reference, tolerance)
    assert result == expected and ratio == pytest.approx(measured / reference)


def test_compare_picks_the_reference_thread_count():
    ref = Reference("m", "m.tflite", 10.0, 4, "cpu", "estimate", 0.5, "guess")
    sweep = [{"threads": 1, "delegate": "cpu", "p50_ms": 30.0}, {"threads": 4, "delegate": "cpu", "p50_ms": 12.0}]
    got = compare(sweep, ref)
    assert (got["verdict"], got["threads"], got["source"], got["note"]) == ("pass", 4, "estimate", "")
    only_one = compare(sweep[:1], ref)
    assert only_one["verdict"] == "fail" and "not measured" in only_one["note"]
    assert compare(sweep, None)["verdict"] == "no reference"


def test_system_facts_from_a_fake_tree(tmp_path):
    for cpu, gov in (("cpu0", "ondemand"), ("cpu1", "performance")):
        (tmp_path / f"sys/devices/system/cpu/{cpu}/cpufreq").mkdir(parents=True)
        (tmp_path / f"sys/devices/system/cpu/{cpu}/cpufreq/scaling_governor").write_text(gov + "\n")
    zone = tmp_path / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("61234\n")
    (zone / "type").write_text("cpu-thermal\n")
    assert temperatures(tmp_path) == [{"zone": "thermal_zone0", "type": "cpu-thermal", "celsius": 61.234}]
    assert "ondemand" in governor_warning({"cpu0": "ondemand", "cpu1": "performance"})
    assert governor_warning({"cpu0": "performance"}) is None
    assert decode_throttled(0x50005) == ["under-voltage now", "throttled now", "under-voltage has occurred",
                                         "throttling has occurred"]


def test_bench_on_zoo_models_writes_report(zoo, tmp_path, capsys):
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    shutil.copy(zoo / "images/cats_and_dogs.jpg", labelled / "cats_and_dogs.jpg")
    # upstream's expected answer for this image (zoo README), as ground truth
    boxes = [(54, 396, 393, 196, 1), (602, 157, 394, 447, 1), (259, 394, 181, 209, 1), (387, 197, 281, 409, 2)]
    (labelled / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "cats_and_dogs.jpg"}],
        "annotations": [{"id": i, "image_id": 1, "bbox": list(b[:4]), "category_id": b[4]} for i, b in enumerate(boxes)],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "zebra-crossing"}],
    }))
    out = tmp_path / "bench"
    rc = edge_main(["bench", "--model", str(zoo / "models" / SSD), "--model",
                    str(zoo / "models/mobilenet_v2_1.0_224_quant.tflite"), "--runs", "5", "--warmup", "2",
                    "--threads", "1,2", "--board", "x86-64", "--labelled", str(labelled),
                    "--source", f"file://{zoo / 'video/traffic_frames.mp4'}", "--frames", "10", "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "bench.json").read_text())
    assert report["board"] == "x86-64" and report["threads"] == [1, 2] and report["peak_rss_mb"] > 10
    assert {"cores", "governors", "temperatures", "throttling", "governor_warning"} <= set(report["system"])
    ssd, mnv2 = report["models"]
    for model in (ssd, mnv2):
        assert [r["threads"] for r in model["sweep"]] == [1, 2]
        for row in model["sweep"]:
            assert row["runs"] == 5 and 0 < row["min_ms"] <= row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"] <= row["max_ms"]
            assert row["init_ms"] > 0 and row["first_invoke_ms"] > 0 and row["throughput_fps"] > 0
        assert model["reference"]["verdict"] in ("pass", "warn", "fail")
        assert model["reference"]["source"] == "measured" and model["reference"]["threads"] == 2
        assert model["delegates"]["cpu"] == "ok" and "libedgetpu" in model["delegates"]["edgetpu"]
    # the SSD finds upstream's cats and dog: near-perfect mAP50; the unknown category is reported
    assert ssd["accuracy"]["map50"] > 0.9 and ssd["accuracy"]["objects"] == 4
    assert ssd["accuracy"]["categories_not_in_model"] == ["zebra-crossing"]
    assert ssd["pipeline"]["frames"] == 10 and ssd["pipeline"]["fps"] > 0
    assert "detection models" in mnv2["accuracy"]["skipped"]
    md = (out / "bench.md").read_text()
    assert "| coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite | 2 | cpu |" in md and "mAP50" in md
    png = cv2.imread(str(out / "bench.png"))
    assert png is not None and png.shape[1] == 960 and (png < 250).any()
    assert "# Benchmark on x86-64" in capsys.readouterr().out


def test_bench_without_model_is_an_error(capsys):
    assert edge_main(["bench", "--board", "none"]) == 2
    assert "no model to bench" in capsys.readouterr().err
