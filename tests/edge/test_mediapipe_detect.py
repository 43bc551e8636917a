"""MediaPipe SSD-anchor detectors: the anchor generator, decoding and weighted NMS on hand-made inputs, then
the zoo's BlazeFace and BlazePalm files through ``python -m edge run`` against MediaPipe's own answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edge.boxes import iou_matrix
from edge.errors import ConfigError, MetadataError
from edge.preprocess import resize_frame
from edge.tasks import mediapipe_ssd as mp
from edge.tasks.mediapipe_ssd import SsdAnchorConfig, decode_boxes, generate_anchors, weighted_nms

# ------------------------------------------------------------------------------------ anchors, by hand

HAND_CONFIG = SsdAnchorConfig("hand_check", "test", (64, 64), (16, 32), 0, ("thing",), (0.0, 1.0),
                              min_scale=0.2, max_scale=0.8, fixed_anchor_size=False)


def test_anchor_generator_matches_a_config_worked_by_hand():
    a = generate_anchors(HAND_CONFIG)
    # stride 16 on 64 px: a 4x4 map; stride 32: 2x2; each cell one ratio-1 anchor plus one interpolated
    assert a.shape == (4 * 4 * 2 + 2 * 2 * 2, 4)
    assert a[0].tolist() == pytest.approx([0.125, 0.125, 0.2, 0.2])  # cell (0, 0) of the 4x4 map, scale 0.2
    assert a[1].tolist() == pytest.approx([0.125, 0.125, math.sqrt(0.2 * 0.8), math.sqrt(0.2 * 0.8)])
    assert a[2, :2].tolist() == pytest.approx([0.375, 0.125])  # x runs fastest, then y
    assert a[31, :2].tolist() == pytest.approx([0.875, 0.875])
    assert a[32].tolist() == pytest.approx([0.25, 0.25, 0.8, 0.8])  # first cell of the 2x2 map
    assert a[-1].tolist() == pytest.approx([0.75, 0.75, math.sqrt(0.8), math.sqrt(0.8)])  # next scale is 1.0


def test_layers_with_one_stride_share_a_map():
    cfg = SsdAnchorConfig("shared", "test", (32, 32), (16, 16, 16), 0, (), (0.0, 1.0))
    a = generate_anchors(cfg)
    assert len(a) == 2 * 2 * 6  # one 2x2 map, 3 layers x 2 anchors stacked per cell
    assert np.all(a[:6, :2] == a[0, :2]) and np.all(a[:, 2:] == 1.0)  # fixed anchor size


@pytest.mark.parametrize("name, count", [("face_short_range", 896), ("face_full_range", 2304),
                                         ("palm_192", 2016), ("palm_128", 896), ("palm_256", 2944), ("pose_detection", 2254)])
def test_known_configs_give_upstreams_anchor_counts(name, count):
    cfg = mp.KNOWN[name]
    assert cfg.num_anchors == count
    assert mp.find_config(cfg.input_size, count, cfg.num_coords) is cfg
    assert mp.find_config(cfg.input_size, count + 1, cfg.num_coords) is None


def test_decode_places_boxes_and_keypoints_on_their_anchor():
    cfg = mp.KNOWN["palm_192"]
    n = cfg.num_anchors
    raw = np.zeros((1, n, cfg.num_coords), np.float32)
    logits = np.full((1, n, 1), -5.0, np.float32)
    i = 1000
    ax, ay = generate_anchors(cfg)[i, :2]
    raw[0, i, :4] = [19.2, -9.6, 38.4, 19.2]  # dx, dy, w, h in input pixels (192 px = 1.0)
    raw[0, i, 4:6] = [-19.2, 0.0]  # keypoint 0
    logits[0, i, 0] = 1000.0  # clipped to 100 before the sigmoid
    boxes, kps, scores = decode_boxes(raw, logits, cfg, min_score=0.5)
    assert scores.tolist() == [1.0]
    cx, cy = ax + 0.1, ay - 0.05
    assert boxes[0].tolist() == pytest.approx([cx - 0.1, cy - 0.05, cx + 0.1, cy + 0.05], abs=1e-6)
    assert kps[0, 0].tolist() == pytest.approx([ax - 0.1, ay], abs=1e-6)
    with pytest.raises(MetadataError, match=r"\[1, 2016, 18\]"):
        decode_boxes(raw[:, :, :16], logits, cfg, 0.5)


def test_weighted_nms_merges_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0.5, 10, 10.5]], np.float32)
    kps = np.array([[[0, 0]], [[3, 0]], [[55, 55]], [[0, 0]]], np.float32)
    scores = np.array([0.9, 0.6, 0.7, 0.3], np.float32)
    out_b, out_k, out_s = weighted_nms(boxes, kps, scores, threshold=0.3)
    assert out_s.tolist() == pytest.approx([0.9, 0.7])  # the best score of each group, best group first
    total = 0.9 + 0.6 + 0.3
    assert out_b[0].tolist() == pytest.approx([0.6 / total, 0.15 / total, 10 + 0.6 / total, 10 + 0.15 / total])
    assert out_k[0, 0].tolist() == pytest.approx([3 * 0.6 / total, 0.0])
    assert out_b[1].tolist() == pytest.approx([50, 50, 60, 60])
    # a higher threshold keeps the box shifted by 1 px (IoU 0.82) apart, the one shifted by 0.5 (0.90) not
    assert weighted_nms(boxes, kps, scores, threshold=0.9)[2].tolist() == pytest.approx([0.9, 0.7, 0.6])
    assert weighted_nms(boxes[:0], kps[:0], scores[:0], 0.3)[0].shape == (0, 4)


def test_mediapipe_letterbox_maps_corner_to_corner():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :100] = 255  # left half white
    img, t = resize_frame(frame, (64, 64), "letterbox_mediapipe", "BGR")
    assert img.shape == (64, 64, 3)
    assert (t.scale_x, t.pad_x, t.pad_y) == (0.32, 0.0, 16.0)
    assert img[:15].max() == 0 and img[49:].max() == 0  # zero border above and below
    assert img[32, :31].min() == 255 and img[32, 33:].max() == 0
    assert t.points_to_frame(np.array([0.5, 0.5])).tolist() == pytest.approx([100, 50])


def test_unknown_anchor_count_names_the_option(tmp_path):
    from edge.tasks.detect import _mediapipe

    class Info:
        path, labels = "x.tflite", ()
        decode = {"kind": "ssd_anchors", "anchors": None, "num_anchors": 100, "num_coords": 16}
        input = type("I", (), {"width": 128, "height": 128})

    with pytest.raises(MetadataError, match=r"100 anchors.*anchors = NAME.*face_short_range \(128x128, 896"):
        _mediapipe({}, Info, {"score": 0.5, "max_detections": 10}, None)
    with pytest.raises(ConfigError, match="'palm_999' is not a known"):
        mp.config_named("palm_999")


# ------------------------------------------------------------------------------------ zoo, through the CLI


def _image_folder(zoo, tmp_path, names) -> str:
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    for name in names:
        link = folder / name
        if not link.exists():
            link.symlink_to(zoo / "images" / name)
    return str(folder)


def _run(cli, model, folder, tmp_path, *extra) -> dict[str, dict]:
    jsonl = tmp_path / f"{model.stem}.jsonl"
    proc = cli("run", "--model", str(model), "--source", folder, "--sink", f"jsonl://{jsonl}", "--quiet",
               "--threads", "1", *extra, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {r["source"]: r for r in (json.loads(line) for line in jsonl.read_text().splitlines())}


@pytest.mark.parametrize("model", ["face_detection_full_range", "face_detection_full_range_sparse"])
def test_blazeface_matches_mediapipe_tasks(zoo, tmp_path, cli, model):
    expected = json.loads((zoo / f"expected/mediapipe/{model}.mediapipe.json").read_text())["results"]
    # no --score: the family's default is upstream's min_score_thresh 0.5
    got = _run(cli, zoo / f"models/{model}.tflite", _image_folder(zoo, tmp_path, expected), tmp_path)
    for image, want in expected.items():
        dets = got[image]["detections"]
        assert all(d["label"] == "face" and len(d["keypoints"]) == 6 and d["score"] >= 0.5 for d in dets)
        boxes = np.array([d["box"] for d in dets], np.float32).reshape(-1, 4)
        matched = set()
        for e in want["detections"]:
            x, y, w, h = e["bbox_xywh_px"]
            ious = iou_matrix(np.array([x, y, x + w, y + h], np.float32), boxes)[0] if len(dets) else np.zeros(1)
            j = int(np.argmax(ious))
            assert ious[j] >= 0.7, f"{model} {image}: upstream face {e['bbox_xywh_px']} not found ({dets})"
            assert dets[j]["score"] == pytest.approx(e["score"], abs=0.05)
            kp = np.array(dets[j]["keypoints"])[:, :2]
            err = np.abs(kp - np.array(e["keypoints_xy_norm"]) * want["image_wh"]).max()
            assert err <= 25, f"{model} {image}: keypoints {err:.1f} px from upstream's"
            matched.add(j)
        extra = [d for i, d in enumerate(dets) if i not in matched and d["score"] >= 0.6]
        assert not extra, f"{model} {image}: detections upstream does not have: {extra}"


@pytest.mark.parametrize("model, answers", [("palm_detection_lite", "hand_landmarker_lite"),
                                            ("palm_detection_full", "hand_landmarker_palmfull_landmarklite")])
def test_blazepalm_finds_every_upstream_hand_at_its_wrist(zoo, tmp_path, cli, model, answers):
    expected = json.loads((zoo / f"expected/mediapipe/{answers}.mediapipe.json").read_text())["results"]
    got = _run(cli, zoo / f"models/{model}.tflite", _image_folder(zoo, tmp_path, expected), tmp_path,
               "--score", "0.5")
    for image, want in expected.items():
        dets = got[image]["detections"]
        assert all(d["label"] == "palm" and len(d["keypoints"]) == 7 for d in dets)
        for hand in want["hands"]:
            wrist = np.array(hand["landmarks_xyz_norm"][0][:2]) * want["image_wh"]
            # the palm's wrist keypoint is the detector's guess, not the landmark: 25 px or 10 % of the palm box
            near = [np.hypot(*(np.array(d["keypoints"][0][:2]) - wrist)) <= max(25, 0.1 * (d["box"][2] - d["box"][0]))
                    for d in dets]
            assert any(near), f"{model} {image}: no palm has its wrist near upstream's {wrist}: {dets}"
    # upstream's answers are hands, after the landmark model's presence check (which rejects some palms);
    # on the astronaut neither the lite nor the full pair finds any hand, nor should the palm detector
    assert not [d for d in got["astronaut.png"]["detections"] if d["score"] >= 0.6]


def test_anchors_option_overrides_the_table(zoo, tmp_path, cli):
    folder = _image_folder(zoo, tmp_path, ["astronaut.png"])
    toml = tmp_path / "pipeline.toml"
    toml.write_text(f'source = "file://{folder}"\n[[model]]\npath = "{zoo / "models/palm_detection_lite.tflite"}"\n'
                    f'anchors = "face_full_range"\n')
    proc = cli("run", "--config", str(toml), "--quiet")
    assert proc.returncode == 2
    assert "anchors 'face_full_range' expect regressors [1, 2304, 16]" in proc.stderr and "[1, 2016, 18]" in proc.stderr
    got = _run(cli, zoo / "models/palm_detection_lite.tflite", folder, tmp_path, "--anchors", "palm_192")
    assert got["astronaut.png"]["detections"] == []
    proc = cli("run", "--model", str(zoo / "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"), "--source",
               folder, "--anchors", "palm_192", "--quiet")
    assert proc.returncode == 2 and "applies to MediaPipe SSD-anchor detectors" in proc.stderr


def test_info_prints_the_mediapipe_plan(zoo, cli):
    proc = cli("info", "--model", str(zoo / "models/palm_detection_lite.tflite"), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["task"] == "detect" and info["decode"]["anchors"] == "palm_192"
    assert info["input"]["resize"] == "letterbox_mediapipe" and info["input"]["std"] == [255.0] * 3
    assert info["labels"]["source"] == "MediaPipe anchor table (palm_192)"
