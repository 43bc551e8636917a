"""Tiny runs on the layouts users have: a CamVid-style mask folder with --ignore-index 11 and a class file
through ``python -m train segment``; an Ultralytics data.yaml through the detector (1 epoch, 64 px)."""

from __future__ import annotations

import cv2
import numpy as np

from train.cli import main
from train.datasets import load_detection_data
from train.run_folder import read_run_json


def test_segment_camvid_folders_with_ignore_index(tmp_path, capsys):
    rng = np.random.default_rng(0)
    root = tmp_path / "CamVid"
    for split, n in (("train", 6), ("val", 2)):
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        for i in range(n):
            mask = np.zeros((64, 64), np.uint8)
            mask[32:] = 1
            mask[:4] = 11  # void
            img = np.where(mask[..., None] == 1, 200, 40).astype(np.uint8).repeat(3, 2)
            img = np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / split / f"{i}.png"), img)
            cv2.imwrite(str(root / f"{split}annot" / f"{i}.png"), mask)
    classes = tmp_path / "camvid.txt"
    classes.write_text("Sky\nRoad\n")
    out = tmp_path / "run"
    rc = main(["segment", "--data", str(root), "--format", "folders", "--ignore-index", "11", "--classes",
               str(classes), "--out", str(out), "--epochs", "1", "--input-size", "64", "--batch", "2"])
    assert rc == 0
    run = read_run_json(out)
    assert run["labels"] == ["Sky", "Road"]
    assert run["data"]["ignore_index"] == 11 and run["data"]["classes"] == str(classes.resolve())
    printed = capsys.readouterr().out
    assert "train: 6 images" in printed and "pixels ignored" in printed  # the summary before training


def test_detect_on_an_ultralytics_yaml(tmp_path):
    from train.detect import TrainConfig, train_detector

    ds = tmp_path / "coco8"
    for split, n in (("train", 4), ("val", 2)):
        (ds / "images" / split).mkdir(parents=True)
        (ds / "labels" / split).mkdir(parents=True)
        for i in range(n):
            img = np.full((64, 64, 3), 30, np.uint8)
            cv2.rectangle(img, (16, 16), (48, 48), (220, 220, 220), -1)
            cv2.imwrite(str(ds / "images" / split / f"{i}.jpg"), img)
            (ds / "labels" / split / f"{i}.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    yaml = tmp_path / "coco8.yaml"
    yaml.write_text("path: coco8\ntrain: images/train\nval: images/val\nnames: {0: square}\n")
    data = load_detection_data(yaml, "yolo")
    run = train_detector(TrainConfig(out=tmp_path / "run", epochs=1, batch=2, input_size=64, width=0.35,
                                     allow_small_input=True, show_progress=False), data)
    assert run["labels"] == ["square"] and run["data"]["root"] == str(yaml.resolve())
    assert load_detection_data(run["data"]["root"], run["data"]["format"]).labels == ("square",)  # as export reads it
