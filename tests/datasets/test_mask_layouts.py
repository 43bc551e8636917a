"""Segmentation masks as datasets ship them: mask folders (images/+masks/, CamVid's train/+trainannot/),
--ignore-index (CamVid's 11), a class list file, a value map (category ids up to 200 -> contiguous
classes, 16-bit masks), and the errors that name the file, the value and the expected trees."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from train.records import AnnotationError
from train.segment.data import MaskValues, load_sample, read_mask_folders, read_voc_split
from train.segment.masks import IGNORE
from train.task_cli import read_segment_data

CAMVID = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian",
          "Bicyclist")


def _pair(images: Path, masks: Path, stem: str, mask: np.ndarray, suffix=".png"):
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(images / f"{stem}{suffix}"), np.full(mask.shape[:2] + (3,), 80, np.uint8))
    cv2.imwrite(str(masks / f"{stem}.png"), mask)


def _camvid(root: Path) -> Path:
    """SegNet's CamVid tree: values 0..10 are classes, 11 is void."""
    m = np.zeros((12, 16), np.uint8)
    m[:, 4:8], m[:, 8:12], m[0, :] = 3, 10, 11
    for split in ("train", "val"):
        _pair(root / split, root / f"{split}annot", "0001TP_006690", m)
    (root / "classes.txt").write_text("\n".join(CAMVID) + "\n")
    return root


def test_camvid_folders_with_ignore_index_11(tmp_path):
    root = _camvid(tmp_path / "CamVid")
    with pytest.raises(AnnotationError, match=r"trainannot/0001TP_006690\.png: mask value\(s\) \[11\] are no class "
                                              r"of the 11 .*expected --ignore-index"):
        load_sample(read_mask_folders(root, "train").samples[0])
    train, val, info = read_segment_data(root, "folders", ignore_index=11)
    assert train.labels == CAMVID and info["ignore_index"] == 11 and info["format"] == "folders"
    _, mask = load_sample(val.samples[0])
    assert (mask[0] == IGNORE).all()  # void -> the ignore value training and export use
    assert (mask[1:, :4] == 0).all() and (mask[1:, 4:8] == 3).all() and (mask[1:, 8:12] == 10).all()
    # class 0 is Sky here, not background: nothing in the reader treats index 0 specially
    assert np.bincount(mask[mask != IGNORE].ravel()).tolist()[0] == 11 * 8


def test_images_and_masks_folders_and_classes_file(tmp_path):
    m = np.array([[0, 1], [2, 255]], np.uint8).repeat(4, 0).repeat(4, 1)
    for split in ("train", "val"):
        _pair(tmp_path / "images" / split, tmp_path / "masks" / split, "a", m, ".jpg")
    names = tmp_path / "my_classes.txt"
    names.write_text("# three classes\nroad\ncar\nperson\n")
    train, val, info = read_segment_data(tmp_path, "folders", classes=names)
    assert train.labels == ("road", "car", "person") and info["classes"] == str(names.resolve())
    _, mask = load_sample(train.samples[0])
    assert mask[0, 0] == 0 and mask[0, 4] == 1 and mask[4, 0] == 2 and mask[4, 4] == IGNORE
    (tmp_path / "masks" / "val" / "a.png").unlink()
    with pytest.raises(AnnotationError, match=r"images/val/a\.jpg: no mask .*masks/val/a\.png"):
        read_segment_data(tmp_path, "folders", classes=names)


def test_value_map_category_ids_to_contiguous_classes(tmp_path):
    """COCO-stuff style ids (up to 200) and a 16-bit mask, mapped by name, index and 'ignore'."""
    m = np.zeros((8, 8), np.uint16)
    m[:, 2:4], m[:, 4:6], m[:, 6:] = 200, 17, 1000
    for split in ("train", "val"):
        _pair(tmp_path / "images" / split, tmp_path / "masks" / split, "x", m)
    (tmp_path / "labels.txt").write_text("other\ncat\nwall\n")
    vmap = tmp_path / "map.json"
    vmap.write_text(json.dumps({"0": "other", "17": "cat", "200": 2, "1000": "ignore"}))
    train, _, info = read_segment_data(tmp_path, "folders", value_map=vmap)
    _, mask = load_sample(train.samples[0])
    assert mask.dtype == np.uint8
    assert (mask[:, :2] == 0).all() and (mask[:, 2:4] == 2).all() and (mask[:, 4:6] == 1).all()
    assert (mask[:, 6:] == IGNORE).all()
    assert info["value_map"] == {"0": 0, "17": 1, "200": 2, "1000": IGNORE}
    assert MaskValues.from_info(info) == train.samples[0].values  # export reads the masks the same way
    vmap.write_text(json.dumps({"0": "other", "17": "cat", "200": 2}))
    with pytest.raises(AnnotationError, match=r"x\.png: mask value\(s\) \[1000\] are not in --value-map"):
        load_sample(read_segment_data(tmp_path, "folders", value_map=vmap)[0].samples[0])
    vmap.write_text(json.dumps({"17": "dog"}))
    with pytest.raises(AnnotationError, match=r"map\.json: 17: 'dog' is not one of the classes"):
        read_segment_data(tmp_path, "folders", value_map=vmap)
    vmap.write_text("[1, 2]")
    with pytest.raises(AnnotationError, match=r"map\.json: expected a mapping"):
        read_segment_data(tmp_path, "folders", value_map=vmap)
    # without a map a 16-bit mask is refused by name
    with pytest.raises(AnnotationError, match=r"x\.png: mask must be 8-bit .*16-bit values need a --value-map"):
        load_sample(read_mask_folders(tmp_path, "train").samples[0])


def test_voc_masks_take_ignore_index_and_classes_too(tmp_path):
    m = np.array([[0, 1], [7, 7]], np.uint8).repeat(3, 0).repeat(3, 1)
    _pair(tmp_path / "JPEGImages", tmp_path / "SegmentationClass", "a", m, ".jpg")
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    for split in ("train", "val"):
        (tmp_path / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("a\n")
    names = tmp_path / "names.txt"
    names.write_text("sky\nroad\n")
    train, _, info = read_segment_data(tmp_path, "voc", ignore_index=7, classes=names)
    _, mask = load_sample(train.samples[0])
    assert train.labels == ("sky", "road") and (mask[3:] == IGNORE).all() and mask[0, 3] == 1
    with pytest.raises(AnnotationError, match=r"mask value\(s\) \[7\] are no class of the 2"):
        load_sample(read_voc_split(tmp_path, "train", labels=("sky", "road")).samples[0])


def test_no_mask_folders_shows_the_expected_trees(tmp_path):
    (tmp_path / "pics" / "train").mkdir(parents=True)
    with pytest.raises(AnnotationError, match=r"(?s)no image and mask folders for the train split; expected one of "
                                              r"these mask-folder layouts.*ROOT/\{train,val\}annot/.*it holds: pics/"):
        read_segment_data(tmp_path, "folders")
    with pytest.raises(AnnotationError, match=r"--ignore-index 70000: expected a mask value in 0\.\.65535"):
        MaskValues(70000)
    with pytest.raises(AnnotationError, match=r"apply to mask PNGs"):
        read_segment_data(tmp_path, "coco", ignore_index=11)


def test_colour_coded_masks_map_colour_by_colour(tmp_path):
    """CamVid's 32-class release paints classes as colours (Sky 128,128,128; Road 128,64,128; Void 0,0,0)."""
    rgb = np.zeros((6, 9, 3), np.uint8)
    rgb[:, :3], rgb[:, 3:6] = (128, 128, 128), (128, 64, 128)  # right third stays Void
    for split in ("train", "val"):
        _pair(tmp_path / "images" / split, tmp_path / "masks" / split, "c", np.ascontiguousarray(rgb[..., ::-1]))
    (tmp_path / "labels.txt").write_text("Sky\nRoad\n")
    vmap = tmp_path / "colours.yaml"
    vmap.write_text('"#808080": Sky\n128,64,128: 1\n"0,0,0": ignore\n')
    train, _, info = read_segment_data(tmp_path, "folders", value_map=vmap)
    _, mask = load_sample(train.samples[0])
    assert (mask[:, :3] == 0).all() and (mask[:, 3:6] == 1).all() and (mask[:, 6:] == IGNORE).all()
    assert info["colour_map"] == {"#000000": IGNORE, "#804080": 1, "#808080": 0}
    assert MaskValues.from_info(info) == train.samples[0].values
    vmap.write_text('"#808080": Sky\n"128,64,128": Road\n')
    with pytest.raises(AnnotationError, match=r"c\.png: colour\(s\) #000000 are not in --value-map"):
        load_sample(read_segment_data(tmp_path, "folders", value_map=vmap)[0].samples[0])
    vmap.write_text('"#808080": Sky\n3: Road\n')
    with pytest.raises(AnnotationError, match="mixes mask values and colours"):
        read_segment_data(tmp_path, "folders", value_map=vmap)
    vmap.write_text('"300,0,0": Sky\n')
    with pytest.raises(AnnotationError, match=r"colour '300,0,0' has a channel outside 0\.\.255"):
        read_segment_data(tmp_path, "folders", value_map=vmap)


def test_export_reads_the_masks_as_training_did(tmp_path):
    """export.task_data rebuilds the splits from run.json's data: same classes file, ignore value and map."""
    from export.run_folder import Run
    from export.task_data import task_data

    root = _camvid(tmp_path / "CamVid")
    names = tmp_path / "names.txt"
    names.write_text("\n".join(CAMVID) + "\n")
    train, _, info = read_segment_data(root, "folders", ignore_index=11, classes=names)
    run = Run(tmp_path / "run", {"task": "segment", "labels": list(train.labels), "data": info})
    data = task_data(run)
    _, trained = load_sample(train.samples[0])
    _, exported = load_sample(data.train[0])
    assert np.array_equal(trained, exported) and (exported[0] == IGNORE).all()
