"""COCO, VOC and YOLO readers: valid data, every broken case names file + record, --skip-bad counts."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from train.datasets import load_detection_data
from train.read_coco import read_coco
from train.read_voc import read_voc
from train.read_yolo import read_yolo
from train.records import AnnotationError


def _image(path: Path, w=64, h=48):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 127, np.uint8))


# ---------------------------------------------------------------- COCO
def _coco(tmp_path, annotations=None, images=None, raw=None):
    _image(tmp_path / "a.jpg")
    _image(tmp_path / "b.jpg")
    doc = {"images": images or [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
                                {"id": 7, "file_name": "b.jpg", "width": 64, "height": 48}],
           "annotations": annotations if annotations is not None else [
               {"id": 10, "image_id": 1, "category_id": 3, "bbox": [4, 5, 20, 10]},
               {"id": 11, "image_id": 7, "category_id": 9, "bbox": [0, 0, 64, 48]},
               {"id": 12, "image_id": 7, "category_id": 3, "bbox": [1, 1, 2, 2], "iscrowd": 1}],
           "categories": [{"id": 9, "name": "dog"}, {"id": 3, "name": "cat"}]}
    path = tmp_path / "train.json"
    path.write_text(raw if raw is not None else json.dumps(doc))
    return path


def test_coco_valid(tmp_path):
    split = read_coco(_coco(tmp_path))
    assert split.labels == ("cat", "dog")  # sorted by category id: 3, 9
    a, b = split.records
    np.testing.assert_allclose(a.boxes, [[4, 5, 24, 15]])
    assert a.class_ids.tolist() == [0] and (a.width, a.height) == (64, 48)
    np.testing.assert_allclose(b.boxes, [[0, 0, 64, 48]])  # crowd annotation left out
    assert b.class_ids.tolist() == [1] and b.record_id == "image id 7"


BAD_COCO = [
    ("outside", {"id": 21, "image_id": 1, "category_id": 3, "bbox": [50, 5, 30, 10]}, r"annotation id 21 .*outside the 64x48"),
    ("negative", {"id": 22, "image_id": 1, "category_id": 3, "bbox": [5, 5, -3, 10]}, r"annotation id 22 .*zero or negative"),
    ("zero", {"id": 23, "image_id": 1, "category_id": 3, "bbox": [5, 5, 0, 10]}, r"annotation id 23 .*zero or negative"),
    ("class", {"id": 24, "image_id": 1, "category_id": 5, "bbox": [5, 5, 3, 3]}, r"annotation id 24 .*unknown category_id 5"),
    ("fields", {"id": 25, "image_id": 1, "category_id": 3, "bbox": [5, 5, 3]}, r"annotation id 25 .*expected 4 numbers"),
    ("image_id", {"id": 26, "image_id": 99, "category_id": 3, "bbox": [5, 5, 3, 3]}, r"annotation id 26 .*image_id 99"),
]


@pytest.mark.parametrize("case,ann,pattern", BAD_COCO, ids=[c[0] for c in BAD_COCO])
def test_coco_broken_annotation_names_file_and_record(tmp_path, case, ann, pattern):
    good = {"id": 20, "image_id": 1, "category_id": 3, "bbox": [4, 5, 20, 10]}
    path = _coco(tmp_path, annotations=[good, ann])
    with pytest.raises(AnnotationError, match=r"train\.json: " + pattern):
        read_coco(path)
    split = read_coco(path, skip_bad=True)
    assert split.skipped == 1 and len(split.problems) == 1
    assert sum(len(r.boxes) for r in split.records) == 1  # only the bad box is dropped


def test_coco_missing_image_file(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
              {"id": 2, "file_name": "gone.jpg", "width": 64, "height": 48}]
    path = _coco(tmp_path, annotations=[], images=images)
    with pytest.raises(AnnotationError, match=r"image id 2 \(gone\.jpg\): image file .*gone\.jpg does not exist"):
        read_coco(path)
    split = read_coco(path, skip_bad=True)
    assert split.skipped == 1 and len(split.records) == 1


def test_coco_malformed_json(tmp_path):
    path = _coco(tmp_path, raw='{"images": [')
    with pytest.raises(AnnotationError, match=r"train\.json: malformed JSON"):
        read_coco(path, skip_bad=True)  # nothing to skip: the whole file is unreadable


# ---------------------------------------------------------------- VOC
def _voc_xml(name, objects, size=(64, 48), filename=None):
    objs = "".join(f"<object><name>{n}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
                   f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for n, b in objects)
    return (f"<annotation><filename>{filename or name + '.jpg'}</filename><size><width>{size[0]}</width>"
            f"<height>{size[1]}</height><depth>3</depth></size>{objs}</annotation>")


def _voc(tmp_path, extra=None):
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    files = {"img1": _voc_xml("img1", [("cat", (5, 6, 20, 30)), ("dog", (1, 1, 64, 48))]),
             "img2": _voc_xml("img2", [("dog", (10, 10, 30, 30))])}
    files.update(extra or {})
    for stem, xml in files.items():
        (root / "Annotations" / f"{stem}.xml").write_text(xml)
        if stem != "nofile":
            _image(root / "JPEGImages" / f"{stem}.jpg")
    (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join(files) + "\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("img2\n")
    (root / "labels.txt").write_text("cat\ndog\n")
    return root


def test_voc_valid(tmp_path):
    split = read_voc(_voc(tmp_path), "train")
    assert split.labels == ("cat", "dog")
    r = split.records[0]
    np.testing.assert_allclose(r.boxes, [[4, 5, 20, 30], [0, 0, 64, 48]])
    assert r.class_ids.tolist() == [0, 1]
    assert [x.record_id for x in read_voc(tmp_path / "voc", "val").records] == ["img2"]


BAD_VOC = [
    ("outside", _voc_xml("bad", [("cat", (5, 6, 90, 30))]), r"bad\.xml: object 0 \(cat\): .*outside the 64x48"),
    ("zero", _voc_xml("bad", [("cat", (5, 6, 4, 30))]), r"bad\.xml: object 0 \(cat\): .*zero or negative"),
    ("class", _voc_xml("bad", [("cat", (5, 6, 9, 9)), ("horse", (5, 6, 9, 9))]), r"bad\.xml: object 1 \(horse\): unknown class 'horse'"),
    ("number", _voc_xml("bad", [("cat", (5, "x", 9, 9))]), r"bad\.xml: object 0 \(cat\): <bndbox/ymin> is 'x'"),
    ("xml", "<annotation><size>", r"bad\.xml: malformed XML"),
    ("image", _voc_xml("bad", [("cat", (5, 6, 9, 9))], filename="missing.jpg"), r"bad\.xml: image file .*missing\.jpg does not exist"),
]


@pytest.mark.parametrize("case,xml,pattern", BAD_VOC, ids=[c[0] for c in BAD_VOC])
def test_voc_broken_names_file_and_record(tmp_path, case, xml, pattern):
    root = _voc(tmp_path, {"bad": xml})
    with pytest.raises(AnnotationError, match=pattern):
        read_voc(root, "train")
    split = read_voc(root, "train", skip_bad=True)
    assert split.skipped == 1
    assert {r.record_id for r in split.records} >= {"img1", "img2"}


def test_voc_without_imagesets_splits_every_tenth(tmp_path):
    root = tmp_path / "voc"
    for i in range(12):
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / f"{i:02d}.xml").write_text(_voc_xml(f"{i:02d}", [("cat", (2, 2, 9, 9))]))
        _image(root / "JPEGImages" / f"{i:02d}.jpg")
    assert [r.record_id for r in read_voc(root, "val").records] == ["00", "10"]
    assert len(read_voc(root, "train").records) == 10


# ---------------------------------------------------------------- YOLO
def _yolo(tmp_path, lines_a="0 0.5 0.5 0.25 0.5\n1 0.25 0.25 0.5 0.5\n", names="names: [cat, dog]\n"):
    root = tmp_path / "yolo"
    for split in ("train", "val"):
        _image(root / "images" / split / "a.jpg")
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    _image(root / "images" / "train" / "empty.png")
    (root / "labels" / "train" / "a.txt").write_text(lines_a)
    (root / "labels" / "val" / "a.txt").write_text("1 0.5 0.5 1 1\n")
    (root / "data.yaml").write_text(names)
    return root


def test_yolo_valid(tmp_path):
    split = read_yolo(_yolo(tmp_path), "train")
    assert split.labels == ("cat", "dog")
    a, empty = split.records
    np.testing.assert_allclose(a.boxes, [[24, 12, 40, 36], [0, 0, 32, 24]])
    assert a.class_ids.tolist() == [0, 1] and len(empty.boxes) == 0
    val = read_yolo(tmp_path / "yolo", "val").records[0]
    np.testing.assert_allclose(val.boxes, [[0, 0, 64, 48]])


def test_yolo_names_map_and_classes_txt(tmp_path):
    root = _yolo(tmp_path, names="names:\n  0: cat\n  1: dog\n")
    assert read_yolo(root).labels == ("cat", "dog")
    (root / "data.yaml").unlink()
    (root / "classes.txt").write_text("a\nb\nc\n")
    assert read_yolo(root).labels == ("a", "b", "c")


BAD_YOLO = [
    ("fields", "0 0.5 0.5 0.25\n", r"a\.txt: line 2: 4 fields; expected 5"),
    ("class", "2 0.5 0.5 0.25 0.25\n", r"a\.txt: line 2: unknown class 2; expected 0\.\.1"),
    ("outside", "0 0.9 0.5 0.5 0.5\n", r"a\.txt: line 2 .*outside the 64x48"),
    ("zero", "0 0.5 0.5 0 0.5\n", r"a\.txt: line 2 .*zero or negative"),
    ("text", "0 0.5 half 0.5 0.5\n", r"a\.txt: line 2: .* is not 'class' followed by numbers"),
]


@pytest.mark.parametrize("case,line,pattern", BAD_YOLO, ids=[c[0] for c in BAD_YOLO])
def test_yolo_broken_line_names_file_and_line(tmp_path, case, line, pattern):
    root = _yolo(tmp_path, lines_a="0 0.5 0.5 0.25 0.5\n" + line)
    with pytest.raises(AnnotationError, match=pattern):
        read_yolo(root, "train")
    split = read_yolo(root, "train", skip_bad=True)
    assert split.skipped == 1 and len(split.records[0].boxes) == 1


def test_yolo_unreadable_image_and_missing_names(tmp_path):
    root = _yolo(tmp_path)
    (root / "images" / "train" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(AnnotationError, match=r"broken\.jpg: not an image"):
        read_yolo(root, "train")
    assert read_yolo(root, "train", skip_bad=True).skipped == 1
    (root / "data.yaml").unlink()
    with pytest.raises(AnnotationError, match="no data.yaml or classes.txt"):
        read_yolo(root)


def test_load_detection_data_counts_skipped_across_splits(tmp_path):
    root = _yolo(tmp_path, lines_a="0 0.5 0.5 0.25 0.5\n7 0.5 0.5 0.1 0.1\n")
    with pytest.raises(AnnotationError, match="unknown class 7"):
        load_detection_data(root, "yolo")
    data = load_detection_data(root, "yolo", skip_bad=True)
    assert data.skipped == 1 and data.info["skipped_annotations"] == 1 and data.labels == ("cat", "dog")
    with pytest.raises(AnnotationError, match="--format 'tfrecord' is unknown"):
        load_detection_data(root, "tfrecord")
