"""The Ultralytics family on inputs made here: letterbox geometry, the pure decoders, the metadata reader, RLE,
and whole runs of tiny real .tflite files built by ``tflite_builder`` (no zoo, no TensorFlow)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edge.boxes import iou_matrix
from edge.errors import MetadataError, ModelError
from edge.metadata import model_info
from edge.model_file import parse_model
from edge.preprocess import LETTERBOX_FILL, Transform, resize_frame, truncating_lut
from edge.rle import (counts_to_string, decode as rle_decode, encode as rle_encode, encode_box_mask, run_lengths,
                      string_to_counts)
from edge.tasks.yolo import decode_head, decode_yolov5_anchors, instance_masks, keypoints_to_frame
from edge.ultralytics import labels_from_names, read_ultralytics_metadata, yolov5_anchor_count

from .tflite_builder import constant_model, with_zip

NAMES = {0: "ring", 1: "cube"}


# ------------------------------------------------------------------------------------------ letterbox


def ultralytics_letterbox(w: int, h: int, size: tuple[int, int]):
    """The zoo README's statement of Ultralytics' LetterBox: gain, new size, top/left padding."""
    iw, ih = size
    r = min(ih / h, iw / w)
    nw, nh = round(w * r), round(h * r)
    dw, dh = (iw - nw) / 2, (ih - nh) / 2
    return r, nw, nh, int(round(dw - 0.1)), int(round(dh - 0.1))


@pytest.mark.parametrize("frame", [(451, 300), (300, 451), (1001, 17), (17, 1001), (640, 640), (639, 641), (3, 2)])
@pytest.mark.parametrize("size", [(640, 640), (320, 256)])
def test_letterbox_as_ultralytics_and_back(frame, size):
    w, h = frame
    img = np.full((h, w, 3), 200, np.uint8)
    x0, y0, x1, y1 = w // 4, h // 4, max(w // 4 + 1, 3 * w // 4), max(h // 4 + 1, 3 * h // 4)
    img[y0:y1, x0:x1] = (0, 0, 255)  # a red rectangle, BGR
    out, t = resize_frame(img, size, "letterbox", "RGB")
    r, nw, nh, left, top = ultralytics_letterbox(w, h, size)
    assert (t.scale_x, t.scale_y, t.pad_x, t.pad_y) == (r, r, left, top)
    assert out.shape == (size[1], size[0], 3)
    assert np.all(out[:top] == LETTERBOX_FILL) and np.all(out[top + nh :] == LETTERBOX_FILL)
    assert np.all(out[:, :left] == LETTERBOX_FILL) and np.all(out[:, left + nw :] == LETTERBOX_FILL)
    centre = out[top + nh // 2, left + nw // 2].astype(int)
    assert centre[0] > centre[2]  # RGB now: the red rectangle shows in the first channel
    # the rectangle's corners, through the letterbox and back, land where they started (within the resampling)
    iw, ih = size
    norm = np.array([[x0 * r + left, y0 * r + top, x1 * r + left, y1 * r + top]]) / [iw, ih, iw, ih]
    back = t.boxes_to_frame(norm)[0]
    assert np.allclose(back, [x0, y0, x1, y1], atol=1e-3)
    pts = t.points_to_frame(norm.reshape(2, 2))
    assert np.allclose(pts, [[x0, y0], [x1, y1]], atol=1e-3)


def test_truncating_quantization_is_upstreams():
    """Ultralytics and YOLOv5 quantize ((pixel / 255) / scale + zero_point) in float32 and cast: pixels from
    193 up land one step lower than rounding would put them (the float32 quotient falls just short)."""
    lut = truncating_lut("int8", (0.0,), (255.0,), 0.003921568859368563, -128)[0]
    p = np.arange(256)
    expected = np.where(p >= 193, p - 129, p - 128)
    assert lut.dtype == np.int8 and np.array_equal(lut.astype(int), expected)
    lut_u8 = truncating_lut("uint8", (0.0,), (255.0,), 0.003921568859368563, 0)[0]
    assert lut_u8[0] == 0 and lut_u8[255] == 254 and lut_u8[1] == 1


# ------------------------------------------------------------------------------------------ decoders


def _channels_first(rows) -> np.ndarray:
    return np.asarray(rows, np.float32).T[None]


def test_decode_head_class_aware_nms_and_threshold():
    rows = [  # cx, cy, w, h (0..1), class 0, class 1
        [0.30, 0.30, 0.20, 0.20, 0.90, 0.05],
        [0.31, 0.30, 0.20, 0.20, 0.80, 0.05],  # same class, IoU ~0.9 with row 0: suppressed
        [0.31, 0.30, 0.20, 0.20, 0.05, 0.70],  # other class, same place: kept
        [0.70, 0.70, 0.20, 0.20, 0.25, 0.10],  # exactly at the threshold: Ultralytics keeps only score > conf
        [0.70, 0.30, 0.20, 0.20, 0.26, 0.10],
    ]
    rows += [[0.5, 0.5, 0.01, 0.01, 0.01, 0.01]] * 20
    boxes, scores, ids, extra = decode_head(_channels_first(rows), layout="channels_first", nc=2)
    assert ids.tolist() == [0, 1, 0] and np.allclose(scores, [0.90, 0.70, 0.26])
    assert np.allclose(boxes[0], [0.20, 0.20, 0.40, 0.40]) and extra.shape == (3, 0)
    # a looser IoU keeps the same-class neighbour; max_det cuts by score
    _, scores, _, _ = decode_head(_channels_first(rows), layout="channels_first", nc=2, iou=0.95)
    assert np.allclose(scores, [0.90, 0.80, 0.70, 0.26])
    _, scores, _, _ = decode_head(_channels_first(rows), layout="channels_first", nc=2, max_det=2)
    assert np.allclose(scores, [0.90, 0.70])
    with pytest.raises(MetadataError, match="needs 7 values per row, got 6"):
        decode_head(_channels_first(rows), layout="channels_first", nc=2, n_extra=1)


def test_decode_head_end_to_end_only_thresholds():
    rows = np.array([[0.1, 0.1, 0.3, 0.3, 0.9, 1, 7.0], [0.1, 0.1, 0.3, 0.3, 0.8, 1, 8.0],
                     [0.5, 0.5, 0.6, 0.6, 0.2, 0, 9.0]], np.float32)
    boxes, scores, ids, extra = decode_head(rows[None], layout="anchors_first", nc=2, n_extra=1, end2end=True)
    assert np.allclose(scores, [0.9, 0.8]) and ids.tolist() == [1, 1]  # no NMS: the graph did it
    assert np.allclose(boxes[1], [0.1, 0.1, 0.3, 0.3]) and extra[:, 0].tolist() == [7.0, 8.0]


def test_decode_yolov5_anchors_objectness_times_class():
    rows = np.array([[0.3, 0.3, 0.2, 0.2, 0.9, 0.5, 0.1],  # 0.45 class 0
                     [0.7, 0.7, 0.2, 0.2, 0.2, 0.9, 0.9],  # objectness 0.2 < 0.25: never a candidate
                     [0.7, 0.3, 0.2, 0.2, 0.5, 0.3, 0.6]], np.float32)  # 0.30 class 1
    boxes, scores, ids = decode_yolov5_anchors(rows[None], nc=2)
    assert ids.tolist() == [0, 1] and np.allclose(scores, [0.45, 0.30])
    assert yolov5_anchor_count(640, 640) == 25200 and yolov5_anchor_count(320, 256) == 3 * (40 * 32 + 20 * 16 + 10 * 8)


def test_keypoints_through_the_letterbox():
    t = Transform((200, 100), (64, 64), 0.32, 0.32, 0, 16)  # 200x100 letterboxed: 64x32, 16 rows on top
    extra = np.array([[0.5, 0.5, 0.9, 0.0, 0.25, 0.1, 1.2, 0.5, 0.7]], np.float32)  # 3 keypoints x, y, v
    kp = keypoints_to_frame(extra, (3, 3), t)
    assert kp.shape == (1, 3, 3)
    assert np.allclose(kp[0, 0], [100, 50, 0.9]) and np.allclose(kp[0, 1], [0, 0, 0.1])
    assert np.allclose(kp[0, 2, :2], [200, 50])  # x beyond the frame clipped to its edge
    kp2 = keypoints_to_frame(extra[:, [0, 1, 3, 4, 6, 7]], (3, 2), t)  # no visibility column: conf 1
    assert np.allclose(kp2[0, :, 2], 1.0)


def test_instance_masks_follow_the_box_into_the_frame():
    frame_w, frame_h, size = 300, 200, 640
    s = size / frame_w
    t = Transform((frame_w, frame_h), (size, size), s, s, 0, round((size - frame_h * s) / 2 - 0.1))
    protos = np.ones((160, 160, 2), np.float32)
    coefs = np.array([[1.0, 0.0], [-1.0, 0.0]], np.float32)  # positive logits everywhere / negative
    box_frame = np.array([60, 50, 180, 150], np.float32)
    box_norm = (box_frame * s + [t.pad_x, t.pad_y, t.pad_x, t.pad_y]) / size
    masks = instance_masks(protos, coefs, np.stack([box_norm, box_norm]), t)
    full = masks[0].full()
    assert full.shape == (frame_h, frame_w) and masks[0].frame_size == (frame_w, frame_h)
    rect = np.zeros_like(full)
    rect[50:150, 60:180] = True
    iou = (full & rect).sum() / (full | rect).sum()
    assert iou > 0.95, iou  # the box, up to the prototype grid (4 input pixels = 1.9 frame pixels)
    cell = 4 / s  # one prototype cell in frame pixels: the most a mask may spill over its box
    ys, xs = np.nonzero(full)
    assert xs.min() >= 60 - cell and xs.max() < 180 + cell and ys.min() >= 50 - cell and ys.max() < 150 + cell
    assert not masks[1].full().any()
    # a coarse prototype grid (4 input pixels per cell at 64 px input = 19 frame pixels) spills by up to one
    # cell, as Ultralytics' crop at prototype resolution does
    s = 64 / frame_w
    t = Transform((frame_w, frame_h), (64, 64), s, s, 0, round((64 - frame_h * s) / 2 - 0.1))
    box_norm = (box_frame * s + [0, t.pad_y, 0, t.pad_y]) / 64
    ys, xs = np.nonzero(instance_masks(np.ones((16, 16, 1), np.float32), np.ones((1, 1), np.float32),
                                       box_norm[None], t)[0].full())
    assert 60 <= xs.min() < 60 + 4 / s and 180 <= xs.max() + 1 <= 180 + 4 / s


# ------------------------------------------------------------------------------------------ RLE


def test_rle_is_coco_style():
    mask = np.array([[0, 1], [1, 1]], bool)  # column-major: 0, 1 | 1, 1
    assert run_lengths(mask) == [1, 3] and rle_encode(mask) == {"size": [2, 2], "counts": "13"}
    assert run_lengths(np.ones((2, 3), bool)) == [0, 6]
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (7, 5), (480, 640)]:
        m = rng.random(shape) > 0.7
        m[: shape[0] // 2, : shape[1] // 2] = True  # long runs, so counts need several 5-bit groups
        rle = rle_encode(m)
        assert np.array_equal(rle_decode(rle), m)
        counts = run_lengths(m)
        assert string_to_counts(counts_to_string(counts)) == counts
    # a mask kept as its box's part encodes as the whole-frame mask does, without building the frame
    for x0, y0, part in [(3, 2, m[:4, :5]), (0, 0, m[:1, :1]), (630, 470, m[:10, :10]), (5, 5, m[:0, :0]),
                         (0, 0, np.ones((480, 640), bool))]:
        full = np.zeros((480, 640), bool)
        full[y0 : y0 + part.shape[0], x0 : x0 + part.shape[1]] = part
        assert encode_box_mask(part, x0, y0, (640, 480)) == rle_encode(full)
    with pytest.raises(Exception, match="cover"):
        rle_decode({"size": [3, 3], "counts": "13"})


# ------------------------------------------------------------------------------------------ metadata


def _head_rows(extra: int = 0):
    rows = [[0.5, 0.5, 0.5, 0.5, 0.9, 0.1] + [0.5] * extra, [0.25, 0.25, 0.2, 0.2, 0.1, 0.8] + [0.25] * extra]
    rows += [[0.5, 0.5, 0.01, 0.01, 0.01, 0.01] + [0.0] * extra] * 30
    return np.asarray(rows, np.float32)


META = {"author": "Ultralytics", "version": "8.4.0", "task": "detect", "stride": 32, "imgsz": [32, 32],
        "names": {str(k): v for k, v in NAMES.items()}, "args": {"nms": False}, "end2end": False}


def test_metadata_json_and_temp_meta_txt_read_alike():
    base = constant_model((1, 32, 32, 3), {"out": _channels_first(_head_rows())})
    from_json = parse_model(with_zip(base, {"metadata.json": json.dumps(META)}), "a.tflite")
    old = {**META, "names": NAMES, "args": {"nms": False}}
    old.pop("end2end")
    from_repr = parse_model(with_zip(base, {"temp_meta.txt": repr(old)}), "b.tflite")
    assert read_ultralytics_metadata(from_repr)["names"] == NAMES  # int keys survive (a Python literal)
    for mf in (from_json, from_repr):
        info = model_info(mf)
        assert info.labels == ("ring", "cube") and info.labels_source == "Ultralytics metadata names"
        assert info.task == "detect" and info.source == "ultralytics 8.4.0"
        assert info.input.resize == "letterbox" and info.input.std == (255.0,) * 3
        assert info.decode["layout"] == "channels_first" and info.decode["nc"] == 2


def test_metadata_errors_name_the_file_and_field(tmp_path):
    base = constant_model((1, 32, 32, 3), {"out": _channels_first(_head_rows())})
    zipped = with_zip(base, {"metadata.json": json.dumps(META)})
    at = zipped.rindex(b"PK\x01\x02")  # the central directory entry: break its signature
    broken = zipped[:at] + b"XX" + zipped[at + 2 :]
    with pytest.raises(ModelError, match=r"broken\.tflite.*not a readable zip"):
        read_ultralytics_metadata(parse_model(broken, "broken.tflite"))
    bad_json = parse_model(with_zip(base, {"metadata.json": "{'names': "}), "m.tflite")
    with pytest.raises(MetadataError, match=r"m\.tflite: Ultralytics metadata 'metadata.json' is not JSON"):
        model_info(bad_json)
    marker = tmp_path / "ran"
    evil = parse_model(with_zip(base, {"temp_meta.txt": f"__import__('pathlib').Path('{marker}').touch()"}), "e")
    with pytest.raises(MetadataError, match="not a Python literal dict"):
        model_info(evil)
    assert not marker.exists()  # read with ast.literal_eval, never executed
    wrong_size = parse_model(with_zip(base, {"metadata.json": json.dumps({**META, "imgsz": [64, 64]})}), "s")
    with pytest.raises(MetadataError, match=r"imgsz \[64, 64\].*32x32"):
        model_info(wrong_size)
    obb = parse_model(with_zip(base, {"metadata.json": json.dumps({**META, "task": "obb"})}), "o")
    with pytest.raises(MetadataError, match="task 'obb'"):
        model_info(obb)
    few = parse_model(with_zip(base, {"metadata.json": json.dumps({**META, "names": {"0": "a"}})}), "f")
    with pytest.raises(MetadataError, match="does not fit 1 classes"):
        model_info(few)
    with pytest.raises(MetadataError, match="0..2"):
        labels_from_names({0: "a", 1: "b", 3: "c"}, "x")


def test_files_without_ultralytics_metadata():
    plain = parse_model(constant_model((1, 32, 32, 3), {"out": _channels_first(_head_rows())}), "p.tflite")
    assert read_ultralytics_metadata(plain) is None
    assert model_info(plain).decode["kind"] == "raw_boxes_scores"  # the generic raw head, as before
    other_zip = parse_model(with_zip(constant_model((1, 32, 32, 3), {"out": _channels_first(_head_rows())}),
                                     {"labels.txt": "a\nb\n"}), "z.tflite")
    assert read_ultralytics_metadata(other_zip) is None
    rows = np.zeros((1, yolov5_anchor_count(64, 64), 7), np.float32)
    classic = model_info(parse_model(constant_model((1, 64, 64, 3), {"out": rows}), "v5.tflite"))
    assert classic.decode == {"kind": "yolov5_anchors", "nc": 2, "score": 0.25, "iou": 0.45, "max_detections": 1000}
    assert classic.labels == () and classic.input.resize == "letterbox"


# ------------------------------------------------------------------------------------------ whole runs


@pytest.fixture(scope="module")
def frame_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("frames") / "wide.png"
    cv2.imwrite(str(path), np.full((50, 100, 3), 90, np.uint8))  # 2:1, letterboxed into 32x32: 32x16 + 8 rows
    return path


def _run(cli, tmp_path, model: bytes, frame_file, *extra):
    path = tmp_path / "m.tflite"
    path.write_bytes(model)
    out = tmp_path / f"o{len(list(tmp_path.glob('o*.jsonl')))}.jsonl"  # a new file per run
    proc = cli("run", "--model", str(path), "--source", f"file://{frame_file}", "--sink", f"jsonl://{out}", *extra)
    return proc, (json.loads(out.read_text())["detections"] if proc.returncode == 0 else None)


def _expected_frame_box(norm_box):
    # input 32x32, frame 100x50: gain 0.32, 8 rows of padding on top
    x0, y0, x1, y1 = np.asarray(norm_box) * 32
    return [x0 / 0.32, (y0 - 8) / 0.32, x1 / 0.32, (y1 - 8) / 0.32]


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_detect_run_through_the_cli(cli, tmp_path, frame_file, layout):
    shape = (1, 32, 32, 3) if layout == "NHWC" else (1, 3, 32, 32)
    model = with_zip(constant_model(shape, {"out": _channels_first(_head_rows())}), {"metadata.json": json.dumps(META)})
    proc, dets = _run(cli, tmp_path, model, frame_file)
    assert proc.returncode == 0, proc.stderr
    assert [(d["label"], d["score"]) for d in dets] == [("ring", 0.9), ("cube", 0.8)]
    assert np.allclose(dets[0]["box"], [25, 0, 75, 50], atol=0.1)  # centre box, clipped to the frame
    assert np.allclose(dets[1]["box"], np.clip(_expected_frame_box([0.15, 0.15, 0.35, 0.35]), 0, [100, 50, 100, 50]),
                       atol=0.1)
    assert "keypoints" not in dets[0] and "mask" not in dets[0]


def test_pose_and_seg_runs_through_the_cli(cli, tmp_path, frame_file):
    kpts = _channels_first(_head_rows(extra=2 * 3)[:, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]])
    pose_meta = {**META, "task": "pose", "names": {"0": "person"}, "kpt_shape": [2, 3]}
    proc, dets = _run(cli, tmp_path, with_zip(constant_model((1, 32, 32, 3), {"out": kpts}),
                                              {"metadata.json": json.dumps(pose_meta)}), frame_file,
                      "--sink", f"masks://{tmp_path / 'masks'}")
    assert proc.returncode == 2 and "carry no masks" in proc.stderr  # masks:// refuses detections without masks
    proc, (det,) = _run(cli, tmp_path, (tmp_path / "m.tflite").read_bytes(), frame_file)
    assert proc.returncode == 0, proc.stderr
    assert det["label"] == "person" and len(det["keypoints"]) == 2
    assert np.allclose(det["keypoints"][0], [50.0, 25.0, 0.5], atol=0.1)  # (0.5, 0.5) of the input: frame centre

    nm = 2
    rows = _head_rows(extra=nm)
    rows[:, 6], rows[:, 7] = 1.0, 0.0  # coefficient on prototype 0 (all ones): mask = the box
    protos = np.stack([np.ones((8, 8)), -np.ones((8, 8))], axis=-1)[None].astype(np.float32)
    seg_meta = {**META, "task": "segment"}
    model = with_zip(constant_model((1, 32, 32, 3), {"out": _channels_first(rows), "protos": protos}),
                     {"metadata.json": json.dumps(seg_meta)})
    proc, dets = _run(cli, tmp_path, model, frame_file, "--sink", f"masks://{tmp_path / 'masks'}")
    assert proc.returncode == 0, proc.stderr
    assert [d["label"] for d in dets] == ["ring", "cube"]
    written = cv2.imread(str(tmp_path / "masks" / "wide.png"), cv2.IMREAD_UNCHANGED)
    assert written.shape == (50, 100) and set(np.unique(written)) == {0, 1, 2}
    cell = 4 / 0.32  # one prototype cell (4 input pixels) in frame pixels: how far a mask may spill or fall short
    for d in dets:
        mask = rle_decode(d["mask"])
        assert mask.shape == (50, 100)
        x0, y0, x1, y1 = d["box"]
        ys, xs = np.nonzero(mask)
        assert x0 - cell <= xs.min() <= x0 + cell and x1 - cell <= xs.max() + 1 <= x1 + cell
        assert y0 - cell <= ys.min() <= y0 + cell and y1 - cell <= ys.max() + 1 <= y1 + cell
        inner = mask[int(np.ceil(y0 + cell)) : int(y1 - cell), int(np.ceil(x0 + cell)) : int(x1 - cell)]
        assert inner.all() and (inner.size or d is dets[1])  # the small box has no inside left
    assert (written == 2).sum() == rle_decode(dets[1]["mask"]).sum()  # the later detection painted last
    box = iou_matrix(np.array(dets[0]["box"]), np.array([25, 0, 75, 50]))[0, 0]
    assert box > 0.99


@pytest.mark.parametrize("protos_shape, layout", [((1, 8, 8, 2), "NHWC"), ((1, 2, 8, 8), "NCHW"), ((1, 8, 8, 3), None)])
def test_prototype_layout_from_the_coefficient_count(protos_shape, layout):
    """The head has 4 + 2 classes + 2 coefficients per anchor: the prototypes' axis of size 2 is their channels."""
    head = _channels_first(_head_rows(extra=2))
    model = with_zip(constant_model((1, 32, 32, 3), {"out": head, "protos": np.zeros(protos_shape, np.float32)}),
                     {"metadata.json": json.dumps({**META, "task": "segment"})})
    mf = parse_model(model, "seg.tflite")
    if layout is None:
        with pytest.raises(MetadataError, match=r"leaves 2 mask coefficients .* prototypes protos \[1, 8, 8, 3\]"):
            model_info(mf)
        return
    info = model_info(mf)
    assert info.decode["protos_layout"] == layout and info.decode["nm"] == 2
    assert [o.role for o in info.outputs] == ["yolo_head", "yolo_protos"]


def test_box_units_are_the_familys_not_guessed_from_a_frame():
    """Upstream multiplies every TFLite head's boxes by the input size without looking at them: a box reaching
    past the input (x2 = 2.0) stays 2.0 of the input, it does not turn the frame's boxes into 'pixels'."""
    from edge.tasks.yolo import decode_head

    rows = np.array([[[0.1, 0.1, 2.0, 0.5, 0.9, 3], [0.2, 0.2, 0.4, 0.4, 0.8, 1]]], np.float32)
    boxes, scores, class_ids, _ = decode_head(rows, layout="anchors_first", nc=80, end2end=True,
                                              input_size=(320, 320))
    assert np.allclose(boxes, [[0.1, 0.1, 2.0, 0.5], [0.2, 0.2, 0.4, 0.4]])
    assert class_ids.tolist() == [3, 1]
