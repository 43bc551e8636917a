"""Dataset readers of pose, segment, enhance and classify: valid input, and broken input named in the error."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from train.classify.data import read_class_folders, read_dataset
from train.enhance.data import darken, read_lol, read_split
from train.pose.data import Person, crop_person, crop_to_image, read_coco_keypoints
from train.records import AnnotationError
from train.segment.data import load_sample, read_coco_split, read_voc_split
from train.segment.masks import (MaskError, polygons_to_mask, read_class_png, rle_decode, rle_encode,
                                 rle_string_to_counts, voc_palette)


def _img(path, w=32, h=24, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), value, np.uint8))
    return path


# ---------------------------------------------------------------- classification
def test_class_folders(tmp_path):
    for split in ("train", "val"):
        for c in ("cat", "dog"):
            _img(tmp_path / split / c / "a.png")
    (tmp_path / "train" / "dog" / "notes.txt").write_text("not an image")
    train, val = read_dataset(tmp_path)
    assert train.labels == ("cat", "dog") and train.class_ids.tolist() == [0, 1] and len(val.images) == 2


def test_class_folders_errors(tmp_path):
    _img(tmp_path / "train" / "cat" / "a.png")
    (tmp_path / "train" / "dog").mkdir()
    with pytest.raises(AnnotationError, match=r"train/dog: class folder holds no image"):
        read_class_folders(tmp_path / "train")
    _img(tmp_path / "val" / "bird" / "b.png")
    with pytest.raises(AnnotationError, match=r"val/bird: class 'bird' is not among the training classes"):
        read_class_folders(tmp_path / "val", ("cat", "dog"))
    with pytest.raises(AnnotationError, match="missing train/"):
        read_dataset(tmp_path / "nowhere")


# ---------------------------------------------------------------- segmentation masks
@pytest.mark.parametrize("text,counts", [("Z11", [42, 1]), ("3240", [3, 2, 4, 2]), ("354M", [3, 5, 4, 2])])
def test_compressed_rle_by_hand(text, counts):
    # 'Z' = 42 = 0b101010: low five bits 10 with the continuation bit, then '1' adds 1 << 5 -> 42.
    # From the fourth count on, values are deltas to the count two before: 'M' = 29 -> -3 -> 5 - 3 = 2.
    assert rle_string_to_counts(text) == counts


def test_rle_decode_column_major_and_round_trip():
    m = rle_decode([1, 2, 3], 2, 3)  # column-major: pixel order (0,0) (1,0) (0,1) (1,1) (0,2) (1,2)
    assert m.astype(int).tolist() == [[0, 1, 0], [1, 0, 0]]
    rng = np.random.default_rng(0)
    mask = rng.random((7, 5)) > 0.6
    assert np.array_equal(rle_decode(rle_encode(mask), 7, 5), mask)
    with pytest.raises(MaskError, match="add up to 5 pixels; expected 2x3 = 6"):
        rle_decode([1, 2, 2], 2, 3)


def test_polygon_fill():
    m = polygons_to_mask([[2, 2, 6, 2, 6, 5, 2, 5]], 8, 8)  # axis-aligned rectangle, corners inclusive
    assert m.sum() == 5 * 4 and m[2:6, 2:7].all()
    with pytest.raises(MaskError, match="polygon 0 has 5 numbers"):
        polygons_to_mask([[1, 2, 3, 4, 5]], 8, 8)


def test_voc_palette_png_read_back(tmp_path):
    idx = np.array([[0, 1, 15], [255, 15, 0]], np.uint8)
    colour = voc_palette()[idx]  # what a palette PNG looks like once OpenCV expands it
    cv2.imwrite(str(tmp_path / "m.png"), colour[..., ::-1])
    assert np.array_equal(read_class_png(tmp_path / "m.png"), idx)
    colour[0, 0] = (1, 2, 3)
    cv2.imwrite(str(tmp_path / "bad.png"), colour[..., ::-1])
    with pytest.raises(MaskError, match=r"bad.png: colour RGB\(1, 2, 3\) is not in the VOC palette"):
        read_class_png(tmp_path / "bad.png")


def _voc(tmp_path, mask_size=(32, 24)):
    _img(tmp_path / "JPEGImages" / "a.jpg")
    m = np.zeros(mask_size[::-1], np.uint8)
    m[0, 0], m[1, 1] = 1, 255
    (tmp_path / "SegmentationClass").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "SegmentationClass" / "a.png"), m)
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Segmentation" / "train.txt").write_text("a\n")
    return tmp_path


def test_voc_layout(tmp_path):
    split = read_voc_split(_voc(tmp_path), "train")
    assert split.labels[0] == "background" and len(split.labels) == 21
    img, mask = load_sample(split.samples[0])
    assert img.shape == (24, 32, 3) and mask[0, 0] == 1 and mask[1, 1] == 255


def test_voc_mask_size_mismatch_names_both_files(tmp_path):
    _voc(tmp_path, mask_size=(30, 24))
    with pytest.raises(AnnotationError, match=r"mask .*SegmentationClass/a.png is 30x24 but its image "
                                              r".*JPEGImages/a.jpg is 32x24"):
        read_voc_split(tmp_path, "train")


def test_coco_polygons_rle_and_crowd(tmp_path):
    _img(tmp_path / "im.png", 6, 4)
    crowd = {"size": [4, 6], "counts": "04l0"}
    doc = {"images": [{"id": 7, "file_name": "im.png", "width": 6, "height": 4}],
           "categories": [{"id": 3, "name": "cat"}, {"id": 9, "name": "dog"}],
           "annotations": [
               {"id": 1, "image_id": 7, "category_id": 3, "segmentation": [[0, 0, 2, 0, 2, 1, 0, 1]]},
               {"id": 2, "image_id": 7, "category_id": 9, "segmentation": {"size": [4, 6], "counts": [20, 4]}},
               {"id": 3, "image_id": 7, "category_id": 9, "iscrowd": 1, "segmentation": crowd}]}
    # "04l0": 0, 4, then 'l' (60: low bits 28 + continuation) and '0' -> 28; 0 + 4 + 28 = 32 != 24 pixels
    (tmp_path / "a.json").write_text(json.dumps(doc))
    split = read_coco_split(tmp_path / "a.json")
    assert split.labels == ("background", "cat", "dog")
    with pytest.raises(AnnotationError, match=r"a.json: annotation id 3: RLE runs add up to 32 pixels"):
        load_sample(split.samples[0])
    # counts [0, 4, 20]: 20 = 0b10100 has the sign bit 0x10 set, so it takes a second, empty group:
    # 'd' (20 + continuation 32 + 48) then '0'
    crowd["counts"] = "04d0"
    (tmp_path / "a.json").write_text(json.dumps(doc))
    _, mask = load_sample(read_coco_split(tmp_path / "a.json").samples[0])
    expected = np.zeros((4, 6), np.uint8)
    expected[0:2, 0:3] = 1  # polygon with inclusive corners: x 0..2, y 0..1
    expected[:, 5] = 2  # uncompressed RLE [20, 4]: the last column (column-major)
    expected[:, 0] = 255  # the crowd region: first column, ignored
    assert mask.tolist() == expected.tolist()


def test_coco_segmentation_errors(tmp_path):
    doc = {"images": [{"id": 1, "file_name": "x.png", "width": 6, "height": 4}], "categories": [{"id": 1, "name": "a"}],
           "annotations": [{"id": 5, "image_id": 1, "category_id": 2, "segmentation": []}]}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    with pytest.raises(AnnotationError, match=r"a.json: annotation id 5 has unknown category_id 2"):
        read_coco_split(tmp_path / "a.json")


# ---------------------------------------------------------------- pose
def _pose_doc(kp=None, skeleton=None, bbox=(10, 10, 20, 30)):
    kp = kp if kp is not None else [15, 20, 2] * 17
    return {"images": [{"id": 1, "file_name": "p.png", "width": 64, "height": 48}],
            "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)],
                            "skeleton": skeleton or [[16, 14], [1, 2]]}],
            "annotations": [{"id": 42, "image_id": 1, "category_id": 1, "bbox": list(bbox), "keypoints": kp}]}


def test_pose_reader_valid(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(_pose_doc()))
    cv2.imwrite(str(tmp_path / "p.png"), np.zeros((48, 64, 3), np.uint8))
    imgs = read_coco_keypoints(tmp_path / "a.json")
    p = imgs[0].people[0]
    assert p.keypoints.shape == (17, 3) and p.box.tolist() == [10, 10, 30, 40] and p.area == 600


@pytest.mark.parametrize("content,why", [
    (b"not an image at all", "not an image"),
    (b"", "the image file is empty"),
    (None, "cannot be read"),
])
def test_readers_refuse_undecodable_images_at_read_time(tmp_path, content, why):
    """classify, enhance and pose read images with OpenCV during training: a bad file is named when the
    split is read, not epochs later."""
    from train.image_io import ImageReadError

    good = np.full((48, 64, 3), 90, np.uint8)
    (tmp_path / "cls" / "a").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "cls" / "a" / "ok.png"), good)
    (tmp_path / "dark").mkdir()
    cv2.imwrite(str(tmp_path / "dark" / "ok.png"), good)
    (tmp_path / "a.json").write_text(json.dumps(_pose_doc()))
    bad = [tmp_path / "cls" / "a" / "bad.jpg", tmp_path / "dark" / "bad.jpg", tmp_path / "p.png"]
    for path in bad:
        if content is not None:
            path.write_bytes(content)
    if content is None:  # a missing file only makes sense where a document names it (pose)
        cases = [(lambda: read_coco_keypoints(tmp_path / "a.json"), "p.png")]
    else:
        cases = [(lambda: read_class_folders(tmp_path / "cls"), "bad.jpg"),
                 (lambda: read_split(tmp_path / "dark", "unpaired"), "bad.jpg"),
                 (lambda: read_coco_keypoints(tmp_path / "a.json"), "p.png")]
    for read, name in cases:
        with pytest.raises(ImageReadError, match=rf"1 of [12] image files cannot be decoded: .*{name}: {why}"):
            read()


@pytest.mark.parametrize("doc,message", [
    (_pose_doc(kp=[1, 2, 2] * 16), r"a.json: annotation id 42 has 48 keypoint values \(16 joints\); expected 51"),
    (_pose_doc(kp=[1, 2, 2] * 16 + [1, 2, 3]), r"annotation id 42: joint 16 \(right_ankle\) has visibility 3"),
    (_pose_doc(skeleton=[[1, 18]]), r"a.json: category id 1 skeleton pair \[1, 18\] refers to joint 18; expected "
                                    r"joint indices 1..17"),
    (_pose_doc(kp=[1, 2, 2] * 16 + [99, 2, 2]), r"annotation id 42: joint 16 \(right_ankle\) at \(99, 2\) lies "
                                                r"outside the 64x48 image"),
    (_pose_doc(bbox=(1, 1, 0, 5)), r"annotation id 42: bbox \[1, 1, 0, 5\] must be"),
])
def test_pose_reader_errors(tmp_path, doc, message):
    (tmp_path / "a.json").write_text(json.dumps(doc))
    with pytest.raises(AnnotationError, match=message):
        read_coco_keypoints(tmp_path / "a.json")


def test_pose_crop_round_trip_and_flip():
    kp = np.zeros((17, 3))
    kp[:, :2] = np.random.default_rng(0).uniform(12, 28, (17, 2))
    kp[:, 2] = 2
    person = Person(kp, np.array([10, 10, 30, 40.0]), 600.0, "1")
    crop, ck, m = crop_person(np.zeros((48, 64, 3), np.uint8), person, 64)
    assert crop.shape == (64, 64, 3)
    np.testing.assert_allclose(crop_to_image(ck[:, :2], m), kp[:, :2], atol=1e-9)
    _, fk, _ = crop_person(np.zeros((48, 64, 3), np.uint8), person, 64, flip=True)
    np.testing.assert_allclose(fk[1, 0], 64 - ck[2, 0])  # left eye of the flip = mirrored right eye


# ---------------------------------------------------------------- enhancement
def test_lol_pairs_and_unpaired_file(tmp_path):
    for name in ("1.png", "2.png"):
        _img(tmp_path / "low" / name, value=10), _img(tmp_path / "high" / name, value=150)
    split = read_lol(tmp_path)
    assert split.mode == "paired" and [p.name for p in split.low] == ["1.png", "2.png"]
    assert read_split(tmp_path, "auto").mode == "paired"
    _img(tmp_path / "low" / "3.png")
    with pytest.raises(AnnotationError, match=r"low/3.png has no partner .*high/3.png"):
        read_lol(tmp_path)


def test_unpaired_folder_errors(tmp_path):
    with pytest.raises(AnnotationError, match="no images"):
        read_split(tmp_path, "unpaired")
    with pytest.raises(AnnotationError, match="missing low/"):
        read_lol(tmp_path)


def test_darken_is_dark_noisy_and_deterministic():
    img = np.full((32, 32, 3), 180, np.uint8)
    a = darken(img, np.random.default_rng(3))
    b = darken(img, np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert a.mean() < 0.35 * 180  # gain <= 0.3 and gamma >= 1.2
    assert a.std() > 0  # shot and read noise
