"""`python -m edge run` end to end for pose, segmentation (with the masks:// sink), enhancement and
classification on the zoo models."""

from __future__ import annotations

import json

import cv2
import numpy as np

QUANT_DEEPLAB = "models/deeplabv3_mnv2_pascal_quant.tflite"


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_masks_sink_writes_frame_size_class_maps(zoo, tmp_path, edge_cli):
    images = tmp_path / "in"
    images.mkdir()
    bird = cv2.imread(str(zoo / "images/bird_segmentation.bmp"))
    cv2.imwrite(str(images / "bird_small.png"), cv2.resize(bird, (400, 300)))
    horse = cv2.imread(str(zoo / "images/segmentation_input_rotation0.jpg"))
    cv2.imwrite(str(images / "horse.jpg"), cv2.resize(horse, (320, 240)))
    masks, jsonl = tmp_path / "masks", tmp_path / "out.jsonl"
    proc = edge_cli("run", "--model", str(zoo / QUANT_DEEPLAB), "--task", "segment",
                    "--labels", str(zoo / "labels/pascal_voc_segmentation_labels.txt"), "--threads", "2",
                    "--source", f"file://{images}/", "--sink", f"masks://{masks}", "--sink", f"jsonl://{jsonl}",
                    "--sink", f"file://{tmp_path}/shown/", "--quiet")
    assert proc.returncode == 0, proc.stderr
    bird_mask = cv2.imread(str(masks / "bird_small.png"), cv2.IMREAD_UNCHANGED)
    horse_mask = cv2.imread(str(masks / "horse.png"), cv2.IMREAD_UNCHANGED)
    assert bird_mask.shape == (300, 400) and bird_mask.dtype == np.uint8
    assert horse_mask.shape == (240, 320)
    assert set(np.unique(bird_mask)) == {0, 3}  # background and bird: pixel value = class index
    assert {13, 15} <= set(np.unique(horse_mask))  # horse and person
    expected = cv2.resize(cv2.imread(str(zoo / "expected/bird_segmentation_mask.bmp"), cv2.IMREAD_GRAYSCALE),
                          (400, 300), interpolation=cv2.INTER_NEAREST)
    assert np.mean(bird_mask == expected) > 0.95
    records = {r["source"]: r for r in _lines(jsonl)}
    bird_classes = records["bird_small.png"]["segmentation"]["classes"]
    assert set(bird_classes) == {"background", "bird"}
    assert abs(bird_classes["bird"] - np.mean(bird_mask == 3)) < 1e-3
    assert cv2.imread(str(tmp_path / "shown/horse.jpg")).shape == (240, 320, 3)


def test_masks_sink_refuses_a_non_segmentation_model(zoo, tmp_path, edge_cli):
    proc = edge_cli("run", "--model", str(zoo / "models/mobilenet_v2_1.0_224_quant.tflite"), "--task", "classify",
                    "--source", str(zoo / "images/cat.bmp"), "--sink", f"masks://{tmp_path}/m", "--quiet")
    assert proc.returncode == 2
    assert "masks://" in proc.stderr and "'classify'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_classify_pose_and_enhance_json_lines(zoo, tmp_path, edge_cli):
    out = tmp_path / "c.jsonl"
    proc = edge_cli("run", "--model", str(zoo / "models/mobilenet_v2_1.0_224_quant.tflite"), "--task", "classify",
                    "--labels", str(zoo / "labels/imagenet_labels.txt"), "--threads", "2",
                    "--source", str(zoo / "images/grace_hopper.bmp"), "--sink", f"jsonl://{out}", "--quiet")
    assert proc.returncode == 0, proc.stderr
    top = _lines(out)[0]["classification"]
    assert len(top) == 5 and top[0]["label"] == "military uniform" and top[0]["class_id"] == 653

    out = tmp_path / "p.jsonl"
    proc = edge_cli("run", "--model", str(zoo / "models/movenet_single_pose_lightning_ptq.tflite"), "--task", "pose",
                    "--threads", "2", "--source", str(zoo / "images/squat.bmp"), "--sink", f"jsonl://{out}",
                    "--sink", f"file://{tmp_path}/pose.png", "--quiet")
    assert proc.returncode == 0, proc.stderr
    poses = _lines(out)[0]["poses"]
    assert len(poses) == 1 and poses[0]["box"] is None and len(poses[0]["keypoints"]) == 17
    assert all(0 <= x <= 500 and 0 <= y <= 610 for x, y, _ in poses[0]["keypoints"])
    assert cv2.imread(str(tmp_path / "pose.png")).shape == (610, 500, 3)

    original = cv2.imread(str(zoo / "images/grace_hopper.bmp"))
    rng = np.random.default_rng(0)
    dark = np.clip(np.rint(original * 0.15 + rng.normal(0, 2, original.shape)), 0, 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "dark.png"), dark)
    out, enhanced = tmp_path / "e.jsonl", tmp_path / "enhanced.png"
    proc = edge_cli("run", "--model", str(zoo / "models/lite-model_zero-dce_1.tflite"), "--task", "enhance",
                    "--threads", "2", "--source", str(tmp_path / "dark.png"), "--sink", f"jsonl://{out}",
                    "--sink", f"file://{enhanced}", "--quiet")
    assert proc.returncode == 0, proc.stderr
    line = _lines(out)[0]["enhance"]
    assert line["applied"] is True and line["mean_out"] > line["mean_in"] + 0.2
    image = cv2.imread(str(enhanced))
    assert image.shape == original.shape  # the enhanced frame at full resolution, nothing drawn on it
    assert abs(image.mean() / 255 - line["mean_out"]) < 0.05


def _run(*argv: str) -> int:
    """`edge run` in this process, with the task options as flags."""
    from edge.cli import main

    return main(["run", *argv])


def test_run_gate_and_side_by_side_view(zoo, tmp_path):
    bright = zoo / "images/grace_hopper.bmp"
    out = tmp_path / "e.jsonl"
    assert _run("--model", str(zoo / "models/lite-model_zero-dce_1.tflite"), "--task", "enhance", "--threads",
                     "2", "--source", str(bright), "--sink", f"jsonl://{out}", "--sink", f"file://{tmp_path}/e.png",
                     "--enhance-below", "0.25", "--quiet") == 0
    line = _lines(out)[0]
    assert line["enhance"]["applied"] is False and line["timing_ms"]["infer"] == 0.0
    assert (cv2.imread(str(tmp_path / "e.png")) == cv2.imread(str(bright))).all()  # passed through untouched

    assert _run("--model", str(zoo / "models/deeplabv3_257_mv_gpu.tflite"), "--task", "segment", "--threads",
                     "2", "--source", str(zoo / "images/segmentation_input_rotation0.jpg"),
                     "--sink", f"file://{tmp_path}/s.png", "--seg-view", "side-by-side", "--quiet") == 0
    assert cv2.imread(str(tmp_path / "s.png")).shape == (257, 514, 3)


def test_task_option_values_are_checked():
    import argparse

    import pytest

    from edge.errors import ConfigError
    from edge.task_options import add_task_arguments, task_options

    parser = argparse.ArgumentParser()
    add_task_arguments(parser)
    assert task_options(parser.parse_args([])) == {}
    assert task_options(parser.parse_args(["--enhance-below", "0.25", "--label-offset", "1"])) == {
        "enhance_below": 0.25, "label_offset": 1}
    for argv, flag in ((["--enhance-below", "2"], "--enhance-below"), (["--label-offset", "-1"], "--label-offset"),
                       (["--keypoint-score", "1.5"], "--keypoint-score"), (["--top-k", "0"], "--top-k")):
        with pytest.raises(ConfigError, match=flag):
            task_options(parser.parse_args(argv))
