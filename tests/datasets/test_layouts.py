"""Dataset layouts as users have them: Ultralytics data.yaml (folders, list files, lists; names as list or
map; images/ -> labels/ paths; segment polygons and pose keypoints), and the error that shows the trees."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from train.datasets import load_detection_data
from train.read_yolo import read_yolo
from train.records import AnnotationError
from train.yolo_layout import find_yolo_layout, label_path


def _image(path: Path, w=64, h=48):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 90, np.uint8))


def _label(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _coco128(root: Path, yaml_text: str | None = None) -> Path:
    """The coco128 shape: images/train2017 + labels/train2017, a data.yaml one folder up with path:."""
    ds = root / "datasets" / "coco128"
    for split, stems in (("train2017", ["a", "b", "c"]), ("val2017", ["v"])):
        for stem in stems:
            _image(ds / "images" / split / f"{stem}.jpg")
    _label(ds / "labels" / "train2017" / "a.txt", "0 0.5 0.5 0.25 0.5\n2 0.25 0.25 0.5 0.5\n")
    _label(ds / "labels" / "train2017" / "b.txt", "1 0.5 0.5 1 1\n")  # c.jpg: no label file = no objects
    _label(ds / "labels" / "val2017" / "v.txt", "2 0.5 0.5 0.5 0.5\n")
    yaml = root / "coco128.yaml"
    yaml.write_text(yaml_text or "path: datasets/coco128\ntrain: images/train2017\nval: images/val2017\n"
                                 "names:\n  0: person\n  1: bicycle\n  2: car\n")
    return yaml


def test_label_path_is_ultralytics_images_to_labels():
    assert label_path(Path("/d/images/train2017/x.jpg")) == Path("/d/labels/train2017/x.txt")
    # the last images/ folder is the one replaced
    assert label_path(Path("/images/set/images/val/y.png")) == Path("/images/set/labels/val/y.txt")
    assert label_path(Path("/d/pics/z.jpg")) == Path("/d/pics/z.txt")


def test_ultralytics_yaml_file_with_path_and_names_map(tmp_path):
    yaml = _coco128(tmp_path)
    data = load_detection_data(yaml, "yolo")
    assert data.labels == ("person", "bicycle", "car")
    assert [r.image.name for r in data.train.records] == ["a.jpg", "b.jpg", "c.jpg"]
    a, b, c = data.train.records
    np.testing.assert_allclose(a.boxes, [[24, 12, 40, 36], [0, 0, 32, 24]])
    assert a.class_ids.tolist() == [0, 2] and b.class_ids.tolist() == [1] and len(c.boxes) == 0
    assert data.val.records[0].class_ids.tolist() == [2]
    assert data.info["yaml"] == str(yaml.resolve()) and data.info["root"] == str(yaml.resolve())
    assert data.info["train"] == [str(tmp_path / "datasets/coco128/images/train2017")]


def test_ultralytics_data_yaml_in_folder_names_list_and_list_files(tmp_path):
    yaml = _coco128(tmp_path)
    ds = tmp_path / "datasets" / "coco128"
    (ds / "train.txt").write_text("# split\n./images/train2017/b.jpg\n\nimages/train2017/a.jpg\n")
    (ds / "data.yaml").write_text("train: [train.txt, images/val2017]\nval: images/val2017\n"
                                  "names: [person, bicycle, car]\nnc: 3\n")  # no path: = the YAML's folder
    data = load_detection_data(ds, "yolo")
    assert [r.image.name for r in data.train.records] == ["b.jpg", "a.jpg", "v.jpg"]
    assert data.labels == ("person", "bicycle", "car") and yaml.is_file()
    (ds / "train.txt").write_text("images/train2017/a.jpg\nimages/train2017/gone.jpg\n")
    with pytest.raises(AnnotationError, match=r"train\.txt: line 2: image .*gone\.jpg does not exist"):
        load_detection_data(ds, "yolo")


BAD_YAML = [
    ("nc", "train: images/train2017\nval: images/val2017\nnames: [a, b, c]\nnc: 80\n", r"nc: 80 but names lists 3"),
    ("names", "train: images/train2017\nval: images/val2017\nnames: {1: a, 2: b}\n", r"'names' is .*ids 0\.\.N-1"),
    ("noval", "train: images/train2017\nnames: [a, b, c]\n", r"no val: entry; expected one of these YOLO layouts"),
    ("missing", "train: images/train2017\nval: images/test2017\nnames: [a, b, c]\n",
     r"val: .*test2017 is neither a folder of images nor a \.txt list"),
    ("path", "path: ../nowhere\ntrain: images/train2017\nval: images/val2017\nnames: [a, b, c]\n",
     r"path: '\.\./nowhere' is no folder"),
    ("yaml", "train: [unclosed\n", r"malformed YAML"),
]


@pytest.mark.parametrize("case,text,pattern", BAD_YAML, ids=[c[0] for c in BAD_YAML])
def test_bad_data_yaml_names_the_file_and_field(tmp_path, case, text, pattern):
    _coco128(tmp_path)
    ds = tmp_path / "datasets" / "coco128"
    (ds / "data.yaml").write_text(text)
    with pytest.raises(AnnotationError, match=pattern):
        load_detection_data(ds, "yolo")


def test_segment_polygons_and_pose_keypoints_are_read_into_the_record(tmp_path):
    ds = tmp_path / "seg"
    _image(ds / "images" / "train" / "s.jpg")
    _image(ds / "images" / "val" / "s.jpg")
    # a triangle polygon and a plain box in one file (Ultralytics allows both)
    _label(ds / "labels" / "train" / "s.txt", "1 0.25 0.25 0.75 0.25 0.5 0.75\n0 0.5 0.5 0.5 0.5\n")
    _label(ds / "labels" / "val" / "s.txt", "0 0.1 0.1 0.2 0.1 0.2\n")  # 2 points: neither box nor polygon
    (ds / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [a, b]\n")
    rec = read_yolo(ds, "train").records[0]
    np.testing.assert_allclose(rec.boxes, [[16, 12, 48, 36], [16, 12, 48, 36]])
    assert rec.class_ids.tolist() == [1, 0] and rec.polygons[1] is None
    np.testing.assert_allclose(rec.polygons[0], [[16, 12], [48, 12], [32, 36]])
    with pytest.raises(AnnotationError, match=r"s\.txt: line 1: 6 fields; expected 5 .* or class and 3 or more"):
        read_yolo(ds, "val")
    pose = tmp_path / "pose"
    _image(pose / "images" / "train" / "p.jpg")
    _image(pose / "images" / "val" / "p.jpg")
    _label(pose / "labels" / "train" / "p.txt", "0 0.5 0.5 0.5 0.5 0.25 0.5 2 0.75 0.5 0\n")
    _label(pose / "labels" / "val" / "p.txt", "0 0.5 0.5 0.5 0.5 0.25 0.5 2\n")
    (pose / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [person]\nkpt_shape: [2, 3]\n")
    rec = read_yolo(pose, "train").records[0]
    np.testing.assert_allclose(rec.keypoints, [[[16, 24, 2], [48, 24, 0]]])
    with pytest.raises(AnnotationError, match=r"p\.txt: line 1: 8 fields; expected 11 .*kpt_shape \[2, 3\]"):
        read_yolo(pose, "val")


def test_unmatched_trees_show_what_was_expected_and_what_is_there(tmp_path):
    root = tmp_path / "mine"
    _image(root / "pictures" / "train2017" / "a.jpg")
    (root / "classes.txt").write_text("cat\n")
    with pytest.raises(AnnotationError) as err:
        load_detection_data(root, "yolo")
    text = str(err.value)
    assert "expected one of these YOLO layouts" in text and "ROOT/images/train2017/*.jpg" in text
    assert "it holds:" in text and "pictures/" in text and "train2017/" in text
    # images/train2017 without a data.yaml naming it: our plain layout wants images/train
    _image(root / "images" / "train2017" / "a.jpg")
    with pytest.raises(AnnotationError, match=r"(?s)no images/train/ folder .*Ultralytics:  ROOT/data\.yaml.*images/ has train2017/: name the splits"):
        load_detection_data(root, "yolo")
    _image(root / "images" / "train" / "a.jpg")
    with pytest.raises(AnnotationError, match=r"images/train/ is there but not \S*images/val"):
        load_detection_data(root, "yolo")


def test_a_split_with_no_usable_images_says_why(tmp_path):
    yaml = _coco128(tmp_path)
    ds = tmp_path / "datasets" / "coco128"
    for p in (ds / "images" / "val2017").iterdir():
        p.write_bytes(b"broken")
    with pytest.raises(AnnotationError, match=r"val split has no usable images: all 1 were skipped .*not an image"):
        load_detection_data(yaml, "yolo", skip_bad=True)
    layout = find_yolo_layout(yaml)
    assert layout.root == ds.resolve() and layout.kpt_shape is None


# ---------------------------------------------------------------- VOC
def _voc(root: Path, stems=("a", "b", "c")):
    for stem in stems:
        _image(root / "JPEGImages" / f"{stem}.jpg")
        _label(root / "Annotations" / f"{stem}.xml",
               f"<annotation><filename>{stem}.jpg</filename><size><width>64</width><height>48</height></size>"
               "<object><name>cell</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>30</ymax>"
               "</bndbox></object></annotation>")


def test_voc_imagesets_main_decide_the_splits(tmp_path):
    _voc(tmp_path)
    _label(tmp_path / "ImageSets" / "Main" / "train.txt", "c\na\n")
    _label(tmp_path / "ImageSets" / "Main" / "val.txt", "b\n")
    data = load_detection_data(tmp_path, "voc")
    assert [r.record_id for r in data.train.records] == ["c", "a"] and [r.record_id for r in data.val.records] == ["b"]
    (tmp_path / "ImageSets" / "Main" / "val.txt").unlink()
    _label(tmp_path / "ImageSets" / "Main" / "test.txt", "b\n")
    with pytest.raises(AnnotationError, match=r"Main: no val\.txt \(it holds test\.txt, train\.txt\)"):
        load_detection_data(tmp_path, "voc")


def test_voc_not_found_shows_the_tree_and_a_nested_devkit(tmp_path):
    _voc(tmp_path / "VOCdevkit" / "VOC2007")
    with pytest.raises(AnnotationError, match=r"(?s)no Annotations/ folder; expected a Pascal VOC folder.*"
                                              r"ROOT/JPEGImages/<id>\.jpg.*one level down: VOCdevkit/VOC2007"):
        load_detection_data(tmp_path, "voc")


def test_a_folder_of_another_layout_is_named_with_the_format_to_use(tmp_path):
    _voc(tmp_path)
    with pytest.raises(AnnotationError, match=r"(?s)train\.json: missing.*looks like a VOC dataset: try --format voc"):
        load_detection_data(tmp_path, "coco")
    yaml = _coco128(tmp_path / "u")
    with pytest.raises(AnnotationError, match=r"looks like a YOLO dataset: try --format yolo"):
        load_detection_data(yaml.parent / "datasets" / "coco128" / ".." / ".." / "coco128.yaml", "voc")


def test_relative_path_falls_back_to_the_working_folder(tmp_path, monkeypatch):
    yaml = _coco128(tmp_path / "w")
    elsewhere = tmp_path / "configs"
    elsewhere.mkdir()
    moved = elsewhere / "coco128.yaml"
    moved.write_text(yaml.read_text())  # path: datasets/coco128 is not under configs/
    monkeypatch.chdir(tmp_path / "w")
    assert find_yolo_layout(moved).root == (tmp_path / "w" / "datasets" / "coco128").resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AnnotationError, match=r"path: 'datasets/coco128' is no folder \(looked for .*configs"):
        find_yolo_layout(moved)


def test_ultralytics_pose_and_segment_sets_are_refused_by_name_for_those_tasks(tmp_path):
    from train.task_cli import read_segment_data, refuse_ultralytics

    yaml = _coco128(tmp_path, "train: images/train2017\nval: images/val2017\nnames: [person]\nkpt_shape: [17, 3]\n")
    with pytest.raises(AnnotationError, match=r"coco128\.yaml: an Ultralytics dataset with pose keypoints "
                                              r"\(kpt_shape\); `train pose` reads COCO keypoints JSON.*train detect"):
        refuse_ultralytics(yaml, "pose", "COCO keypoints JSON")
    ds = tmp_path / "datasets" / "coco128"
    (ds / "data.yaml").write_text("train: images/train2017\nval: images/val2017\nnames: [a, b, c]\n")
    with pytest.raises(AnnotationError, match=r"Ultralytics dataset with YOLO labels; `train segment` reads mask"):
        read_segment_data(ds, "folders")
