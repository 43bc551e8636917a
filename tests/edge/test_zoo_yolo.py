"""Every Ultralytics YOLO export in ../shared/zoo (and the classic YOLOv5 file) through ``python -m edge run``,
against the answers Ultralytics' predict (YOLOv5's detect.py) gave for the same files and images.

One ``edge run`` per model per session, over a folder of links to the images of its expected file; the
JSON lines and (seg models) the ``masks://`` PNGs are compared with upstream in ``yolo_oracle``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.rle import decode as rle_decode

from .yolo_oracle import (YOLO_MODELS, box_iou_needed, keypoint_problems, mask_problems, match, read_instances,
                          read_jsonl)

pytestmark = pytest.mark.zoo

POSE = [s for s in YOLO_MODELS if "-pose" in s]
SEG = [s for s in YOLO_MODELS if "-seg" in s]
LABELS_FOR = {"yolov5n_uint8_anchors": "labels/coco80_ultralytics.txt"}  # no metadata: --labels needed


@pytest.fixture(scope="session")
def yolo_run(zoo, cli, tmp_path_factory):
    """stem -> (expected JSON, our detections by image, our masks folder); each model runs once per session."""
    done: dict[str, tuple] = {}

    def run(stem: str):
        if stem not in done:
            expected = json.loads((zoo / "expected/yolo" / YOLO_MODELS[stem]).read_text())
            work = tmp_path_factory.mktemp(stem)
            images = work / "images"
            images.mkdir()
            for name in expected["results"]:
                (images / name).symlink_to(zoo / "images" / name)
            args = ["run", "--model", str(zoo / "models" / f"{stem}.tflite"), "--source", f"file://{images}/",
                    "--sink", f"jsonl://{work / 'out.jsonl'}", "--threads", "1", "--quiet"]
            if stem in LABELS_FOR:
                args += ["--labels", str(zoo / LABELS_FOR[stem])]
            if stem in SEG:
                args += ["--sink", f"masks://{work / 'masks'}"]
            proc = cli(*args, timeout=300)
            assert proc.returncode == 0, proc.stderr
            done[stem] = (expected, read_jsonl(work / "out.jsonl"), work / "masks")
        return done[stem]

    return run


def score_tolerance(stem: str) -> float:
    return 0.4 if stem.startswith("yolo26n") else 0.2


def test_every_zoo_yolo_model_is_covered(zoo):
    assert {p.stem for p in (zoo / "models").glob("yolo*.tflite")} == set(YOLO_MODELS)


@pytest.mark.parametrize("stem", list(YOLO_MODELS))
def test_detections_match_upstream(yolo_run, stem):
    expected, ours, _ = yolo_run(stem)
    assert set(ours) == set(expected["results"])
    problems, matched = [], 0
    for image, res in expected["results"].items():
        pairs, bad = match(res["detections"], ours[image], box_iou_needed(stem))
        matched += len(pairs)
        problems += [f"{image}: {p}" for p in bad]
        # the zoo README's score tolerance: 0.2 (0.4 for yolo26n), what LiteRT's kernels alone may move
        problems += [f"{image}: upstream {res['detections'][j]['class_name']} {res['detections'][j]['score']:.3f}, "
                     f"ours {ours[image][k]['score']:.3f}" for j, k in pairs.items()
                     if abs(res["detections"][j]["score"] - ours[image][k]["score"]) > score_tolerance(stem)]
    assert not problems, "\n".join(problems)
    assert matched >= 5  # the comparison really compared something


@pytest.mark.parametrize("stem", POSE)
def test_keypoints_match_upstream(yolo_run, stem):
    expected, ours, _ = yolo_run(stem)
    problems, checked = [], 0
    for image, res in expected["results"].items():
        pairs, _ = match(res["detections"], ours[image], box_iou_needed(stem))
        for k in pairs.values():
            assert len(ours[image][k]["keypoints"]) == 17
        checked += len(pairs)
        _, bad = keypoint_problems(res["detections"], ours[image], pairs)
        problems += [f"{image}: {p}" for p in bad]
    assert not problems, "\n".join(problems)
    assert checked >= 5


@pytest.mark.parametrize("stem", SEG)
def test_instance_masks_match_upstream(yolo_run, zoo, stem):
    expected, ours, masks_dir = yolo_run(stem)
    problems, checked = [], 0
    for image, res in expected["results"].items():
        upstream_png = zoo / "expected/yolo/masks" / f"{stem}__{Path(image).stem}_instances.png"
        pairs, _ = match(res["detections"], ours[image], box_iou_needed(stem))
        checked += len(pairs)
        _, bad = mask_problems(res["detections"], ours[image], pairs, read_instances(upstream_png))
        problems += [f"{image}: {p}" for p in bad]
        # the masks:// sink wrote our own instance map: 1 + index of our detection, later over earlier
        ours_png = read_instances(masks_dir / f"{Path(image).stem}.png")
        painted = np.zeros_like(ours_png)
        for i, det in enumerate(ours[image]):
            painted[rle_decode(det["mask"])] = i + 1
        assert np.array_equal(ours_png, painted), image
        assert ours_png.shape == tuple(res["orig_shape_hw"])
    assert not problems, "\n".join(problems)
    assert checked >= 5


@pytest.mark.parametrize("stem, layout, rounding", [
    ("yolo11n_int8_nchw_litert", "NCHW", "nearest"),
    ("yolov5nu_full_integer_quant", "NHWC", "truncate"),
    ("yolo11n-seg_int8_nms", "NHWC", "nearest"),
])
def test_info_prints_the_plan(cli, zoo, stem, layout, rounding):
    proc = cli("info", "--model", str(zoo / "models" / f"{stem}.tflite"), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["task"] == "detect" and info["info_source"].startswith("ultralytics ")
    assert info["input"]["resize"] == "letterbox" and info["input"]["layout"] == layout
    assert info["input"]["rounding"] == rounding and (info["input"]["width"], info["input"]["height"]) == (640, 640)
    assert info["labels"]["count"] == 80 and info["labels"]["source"] == "Ultralytics metadata names"
    assert info["decode"]["kind"] == "ultralytics"
    assert (info["decode"]["score"], info["decode"]["iou"], info["decode"]["max_detections"]) == (0.25, 0.7, 300)


def test_classic_yolov5_needs_labels(cli, zoo, tmp_path):
    model = zoo / "models/yolov5n_uint8_anchors.tflite"
    info = json.loads(cli("info", "--model", str(model), "--json").stdout)
    assert info["decode"] == {"kind": "yolov5_anchors", "nc": 80, "score": 0.25, "iou": 0.45, "max_detections": 1000}
    proc = cli("run", "--model", str(model), "--source", f"file://{zoo / 'images/chelsea.png'}",
               "--sink", f"jsonl://{tmp_path / 'o.jsonl'}")
    assert proc.returncode == 2 and "--labels" in proc.stderr


def test_overlay_and_cli_thresholds(cli, zoo, tmp_path):
    """An annotated image shows masks; --score and --iou override the family's defaults."""
    import cv2

    model = zoo / "models/yolo11n-seg_int8_nms.tflite"
    image = zoo / "images/coffee.png"
    proc = cli("run", "--model", str(model), "--source", f"file://{image}", "--sink", f"file://{tmp_path / 'a.png'}",
               "--sink", f"jsonl://{tmp_path / 'a.jsonl'}", "--score", "0.7")
    assert proc.returncode == 0, proc.stderr
    dets = json.loads((tmp_path / "a.jsonl").read_text())["detections"]
    assert dets and min(d["score"] for d in dets) >= 0.7 and {d["label"] for d in dets} <= {"cup", "spoon"}
    frame, drawn = cv2.imread(str(image)), cv2.imread(str(tmp_path / "a.png"))
    cup = rle_decode(next(d for d in dets if d["label"] == "cup")["mask"])
    changed = np.any(frame != drawn, axis=2)
    assert changed[cup].mean() > 0.9  # the cup's pixels are tinted


def test_four_cats_on_a_wide_image(cli, zoo, tmp_path):
    """Issue 10's report: stretched to 640x640, YOLO11n found none of the 4 cats Ultralytics finds on the 2:1
    cats_and_dogs.jpg; letterboxed, all four are there."""
    proc = cli("run", "--model", str(zoo / "models/yolo11n_int8_nchw_litert.tflite"), "--source",
               f"file://{zoo / 'images/cats_and_dogs.jpg'}", "--sink", f"jsonl://{tmp_path / 'c.jsonl'}")
    assert proc.returncode == 0, proc.stderr
    dets = json.loads((tmp_path / "c.jsonl").read_text())["detections"]
    cats = [d for d in dets if d["label"] == "cat" and d["score"] >= 0.5]
    assert len(cats) == 4
    boxes = np.array([d["box"] for d in cats])
    assert (boxes[:, 2] - boxes[:, 0]).min() > 150  # four whole cats, not fragments


def test_yolo_seg_and_pose_run_without_tensorflow(cli, zoo, tmp_path):
    """The whole Ultralytics path (metadata zip, letterbox, NMS, keypoints, masks, RLE, masks://) with
    TensorFlow blocked from importing."""
    from .test_cli_run import NO_TF

    for stem, image in (("yolov8n-seg_int8_nchw_litert", "coffee.png"), ("yolo11n-pose_int8", "pose_image3.jpeg")):
        proc = cli("run", "--model", str(zoo / "models" / f"{stem}.tflite"), "--source",
                   f"file://{zoo / 'images' / image}", "--sink", f"jsonl://{tmp_path / stem}.jsonl",
                   "--sink", f"file://{tmp_path / stem}.png", code=NO_TF)
        assert proc.returncode == 0, proc.stderr
        assert "LEAKED []" in proc.stdout
        dets = json.loads((tmp_path / f"{stem}.jsonl").read_text())["detections"]
        assert dets and ("mask" in dets[0] or "keypoints" in dets[0])


# every file with a refkernels_check.json; three in the quick tier, the rest (about 5 s each) marked slow
REFKERNEL_QUICK = ["yolo11n_int8_nchw_litert", "yolov5nu_full_integer_quant", "yolo11n-seg_int8_nms"]
REFKERNEL_SLOW = ["yolov8n_int8_320", "yolo26n_int8_320_end2end", "yolo11n-pose_int8",
                  "yolo11n-pose_full_integer_quant_256", "yolov8n-seg_int8_nchw_litert"]


@pytest.mark.parametrize("stem", REFKERNEL_QUICK + [pytest.param(s, marks=pytest.mark.slow) for s in REFKERNEL_SLOW])
def test_reference_kernels_drift_no_more_than_upstreams(cli, zoo, tmp_path, stem):
    """With LiteRT's reference kernels (--delegate builtin) instead of XNNPACK, our answers may drift from the
    XNNPACK expected file only as far as Ultralytics' own reference-kernel run did (refkernels_check.json:
    per image, how many expected detections it lost and how many it added)."""
    expected = json.loads((zoo / "expected/yolo" / YOLO_MODELS[stem]).read_text())
    drift = json.loads((zoo / "expected/yolo" / f"{stem}.refkernels_check.json").read_text())["per_image"]
    images = tmp_path / "images"
    images.mkdir()
    for name in expected["results"]:
        (images / name).symlink_to(zoo / "images" / name)
    proc = cli("run", "--model", str(zoo / "models" / f"{stem}.tflite"), "--source", f"file://{images}/",
               "--sink", f"jsonl://{tmp_path / 'o.jsonl'}", "--delegate", "builtin", "--threads", "1", "--quiet",
               timeout=300)
    assert proc.returncode == 0, proc.stderr
    ours = read_jsonl(tmp_path / "o.jsonl")
    for image, res in expected["results"].items():
        _, bad = match(res["detections"], ours[image], box_iou_needed(stem))
        missed = [b for b in bad if b.startswith("upstream")]
        extra = [b for b in bad if b.startswith("extra")]
        assert len(missed) <= drift[image]["unmatched_expected"], (image, missed)
        assert len(extra) <= drift[image]["extra_in_ref"], (image, extra)


def test_another_task_is_refused_with_the_reason(cli, zoo, tmp_path):
    proc = cli("run", "--model", str(zoo / "models/yolo11n-pose_int8.tflite"), "--task", "pose", "--source",
               f"file://{zoo / 'images/pose_image3.jpeg'}", "--sink", "null://")
    assert proc.returncode == 2
    assert "Ultralytics pose export runs as task 'detect'" in proc.stderr and "leave out --task pose" in proc.stderr
    proc = cli("run", "--model", str(zoo / "models/yolo11n-pose_int8.tflite"), "--task", "detect", "--source",
               f"file://{zoo / 'images/pose_image3.jpeg'}", "--sink", f"jsonl://{tmp_path / 'p.jsonl'}")
    assert proc.returncode == 0, proc.stderr  # naming its own task is fine
