"""Dataset summaries (python -m train inspect): counts per class, skipped annotations by reason, warnings;
on trees the tests write and on a subset of the real BCCD set (VOC, read in place from ../shared)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from train.datasets import load_detection_data
from train.inspect import inspect_dataset, skip_reason, summarise_detection

BCCD = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "bccd" / "BCCD"


def _image(path: Path, w=100, h=80):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 60, np.uint8))


def _yolo_tree(root: Path) -> Path:
    """3 classes: 'cat' has 12 boxes in train (1 tiny), 'dog' 1, 'bird' none; one box outside its image."""
    for split in ("train", "val"):
        _image(root / "images" / split / "a.jpg")
        _image(root / "images" / split / "none.jpg")
        (root / "labels" / split).mkdir(parents=True)
    lines = ["0 0.5 0.5 0.2 0.2"] * 11 + ["0 0.5 0.5 0.005 0.2", "1 0.3 0.3 0.2 0.2", "1 0.95 0.5 0.5 0.2"]
    (root / "labels" / "train" / "a.txt").write_text("\n".join(lines) + "\n")
    (root / "labels" / "val" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n2 0.5 0.5 0.3 0.3\n")
    (root / "data.yaml").write_text("names: [cat, dog, bird]\n")
    return root


def test_detection_summary_counts_skips_and_warns(tmp_path):
    summary = inspect_dataset(_yolo_tree(tmp_path / "d"), "detect", "yolo")
    train, val = summary.splits
    assert (train.images, train.empty_images, train.per_class) == (2, 1, {"cat": 12, "dog": 1, "bird": 0})
    assert train.tiny == 1 and train.skipped == {"box outside its image": 1}
    assert val.per_class == {"cat": 1, "dog": 1, "bird": 1} and val.skipped == {} and val.tiny == 0
    w = "\n".join(summary.warnings)
    assert "train: no boxes of class(es) bird" in w
    assert "train: class imbalance: cat has 12 boxes, dog 1 (12x)" in w
    assert "train: 1 of 13 boxes are tiny" in w and "train: 1 box(es) lie outside their image" in w
    assert "val:" not in w  # a balanced split without problems warns of nothing
    text = summary.text()
    assert "train: 2 images, 13 boxes, 1 without objects" in text and "skipped 1: box outside its image" in text
    assert "a.txt: line 14" in text  # an example names the file and line


def test_skip_reasons_group_reader_messages():
    assert skip_reason("/x/a.xml: object 3 (cat): box [x0=1] lies outside the 64x48 image; expected") == \
        "box outside its image"
    assert skip_reason("/x/b.jpg: not an image (its first bytes ...)") == "not an image file"
    assert skip_reason("/x/l.txt: line 2: unknown class 7; expected 0..1") == "unknown class"


def _bccd_subset(tmp_path: Path, n_train=8, n_val=4) -> Path:
    """The first ids of BCCD's own ImageSets, linked (not copied) into a VOC tree of their own."""
    if not (BCCD / "Annotations").is_dir():
        pytest.skip(f"BCCD is absent at {BCCD}")
    root = tmp_path / "bccd"
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for sub in ("Annotations", "JPEGImages"):
        (root / sub).symlink_to(BCCD.resolve() / sub)
    for split, n in (("train", n_train), ("val", n_val)):
        ids = (BCCD / "ImageSets" / "Main" / f"{split}.txt").read_text().split()[:n]
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root


def test_bccd_subset_read_by_the_voc_reader_and_summarised(tmp_path):
    root = _bccd_subset(tmp_path)
    data = load_detection_data(root, "voc")
    assert data.labels == ("Platelets", "RBC", "WBC")
    ids = (BCCD / "ImageSets" / "Main" / "train.txt").read_text().split()[:8]
    assert [r.record_id for r in data.train.records] == ids and len(data.val.records) == 4
    for rec in data.train.records:
        assert (rec.width, rec.height) == (640, 480) and rec.image.is_file() and len(rec.boxes) > 0
        assert np.all(rec.boxes[:, 2] > rec.boxes[:, 0]) and np.all(rec.boxes[:, 2] <= 640)
    summary = summarise_detection(data)
    train = summary.splits[0]
    assert sum(train.per_class.values()) == sum(len(r.boxes) for r in data.train.records)
    assert train.per_class["RBC"] > train.per_class["WBC"] > 0  # blood smears: red cells outnumber white


def test_python_m_train_inspect_prints_the_summary(tmp_path):
    root = _bccd_subset(tmp_path, 6, 3)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-m", "train", "inspect", "--data", str(root), "--format", "voc"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "train: 6 images" in proc.stdout and "val: 3 images" in proc.stdout and "RBC" in proc.stdout
    (tmp_path / "none").mkdir()
    proc = subprocess.run([sys.executable, "-m", "train", "inspect", "--data", str(tmp_path / "none"),
                           "--format", "yolo"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "expected one of these YOLO layouts" in proc.stderr


def test_segment_and_classify_summaries(tmp_path):
    m = np.zeros((10, 10), np.uint8)
    m[:, 5:], m[0] = 1, 11  # Sky left, Road right, the first row void (CamVid's 11)
    for split in ("train", "val"):
        for folder, img in ((split, np.full((10, 10, 3), 50, np.uint8)), (f"{split}annot", m)):
            (tmp_path / "cv" / folder).mkdir(parents=True)
            cv2.imwrite(str(tmp_path / "cv" / folder / "f.png"), img)
    (tmp_path / "cv" / "labels.txt").write_text("Sky\nRoad\nCar\n")
    summary = inspect_dataset(tmp_path / "cv", "segment", "folders", {"ignore_index": 11})
    train = summary.splits[0]
    assert train.per_class == {"Sky": 45, "Road": 45, "Car": 0} and train.ignored_pixels == 10
    assert "train: no pixels of class(es) Car" in summary.warnings
    assert "10 pixels ignored" in summary.text()
    for split, counts in (("train", {"ant": 3, "bee": 1}), ("val", {"ant": 1, "bee": 1})):
        for name, n in counts.items():
            for i in range(n):
                _image(tmp_path / "cls" / split / name / f"{i}.jpg")
    summary = inspect_dataset(tmp_path / "cls", "classify")
    assert [s.per_class for s in summary.splits] == [{"ant": 3, "bee": 1}, {"ant": 1, "bee": 1}]
    assert summary.warnings == []  # 3x is no imbalance worth a warning


def test_whole_bccd_splits_from_its_imagesets(tmp_path):
    """BCCD as shipped: ImageSets/Main decides the splits (205 + 87 of its 364 images); nothing skipped."""
    if not (BCCD / "ImageSets" / "Main" / "train.txt").is_file():
        pytest.skip(f"BCCD is absent at {BCCD}")
    data = load_detection_data(BCCD, "voc", skip_bad=True)
    assert (len(data.train.records), len(data.val.records), data.skipped) == (205, 87, 0)
    listed = (BCCD / "ImageSets" / "Main" / "val.txt").read_text().split()
    assert [r.record_id for r in data.val.records] == listed
    summary = summarise_detection(data)
    assert any("class imbalance: RBC" in w for w in summary.warnings)
