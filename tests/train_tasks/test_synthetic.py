"""The built-in synthetic sets are deterministic from the seed and carry exact labels."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np

from train.classify.data import generate_synthetic as classify_synth, read_dataset
from train.enhance.data import generate_normal_images
from train.pose.data import read_coco_keypoints
from train.pose.synthetic import generate_synthetic as pose_synth, make_figure
from train.segment.data import SEGMENT_STYLE, generate_synthetic as segment_synth, load_sample, read_voc_split
from train.synth import make_image, make_scene


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_files_other_seed_differs(tmp_path):
    for name, gen in (("cls", lambda o, s: classify_synth(o, 6, 2, 64, s)),
                      ("seg", lambda o, s: segment_synth(o, 4, 2, 64, s)),
                      ("pose", lambda o, s: pose_synth(o, 4, 2, 64, s)),
                      ("enh", lambda o, s: generate_normal_images(o, 3, 1, 64, 48, s))):
        gen(tmp_path / f"{name}a", 0), gen(tmp_path / f"{name}b", 0), gen(tmp_path / f"{name}c", 1)
        assert _digest(tmp_path / f"{name}a") == _digest(tmp_path / f"{name}b"), name
        assert _digest(tmp_path / f"{name}a") != _digest(tmp_path / f"{name}c"), name


def test_segmentation_masks_are_the_shapes(tmp_path):
    segment_synth(tmp_path, 5, 1, 96, 0)
    split = read_voc_split(tmp_path, "train")
    assert split.labels == ("background", "circle", "square", "triangle", "star", "cross")
    for i, sample in enumerate(split.samples):
        img, mask = load_sample(sample)
        _, owner, _, classes = make_scene(np.random.default_rng([0, 200, i]), 96, 4, SEGMENT_STYLE)
        expected = np.where(owner < 0, 0, np.asarray(classes + [0])[owner] + 1)
        assert np.array_equal(mask, expected)
        assert set(np.unique(mask)) <= set(range(6))


def test_make_image_still_matches_its_scene():
    img, boxes, ids = make_image(np.random.default_rng([0, 0, 3]), 128, 6)
    img2, owner, masks, classes = make_scene(np.random.default_rng([0, 0, 3]), 128, 6)
    assert np.array_equal(img, img2) and set(ids) <= set(classes)
    for (x0, y0, x1, y1), cid in zip(boxes, ids):
        assert np.isin(owner[y0:y1, x0:x1], [k for k, c in enumerate(classes) if c == cid]).any()


def test_stick_figures_have_hidden_joints_and_valid_coco(tmp_path):
    train_json, _ = pose_synth(tmp_path, 40, 2, 128, 0)
    doc = json.loads(train_json.read_text())
    assert doc["categories"][0]["keypoints"][0] == "nose" and len(doc["categories"][0]["skeleton"]) == 19
    people = [p for im in read_coco_keypoints(train_json) for p in im.people]
    v = np.concatenate([p.keypoints[:, 2] for p in people])
    assert (v == 1).sum() > 0 and (v == 2).sum() > 0.7 * len(v)
    for p in people:  # every labelled joint lies inside its box
        lab = p.keypoints[p.keypoints[:, 2] > 0]
        assert (lab[:, 0] >= p.box[0] - 1).all() and (lab[:, 0] <= p.box[2] + 1).all()


def test_figure_faces_the_camera():
    img, kp, _, _ = make_figure(np.random.default_rng(5), 128)
    # the figure's left shoulder and hip are on the image's right
    assert kp[5, 0] > kp[6, 0] and kp[11, 0] > kp[12, 0]
    assert img.shape == (128, 128, 3)


def test_classification_images_hold_one_shape(tmp_path):
    classify_synth(tmp_path, 10, 2, 64, 0)
    train, _ = read_dataset(tmp_path)
    assert len(train.images) == 10
    assert cv2.imread(str(train.images[0])).shape == (64, 64, 3)


def test_classification_set_is_balanced(tmp_path):
    classify_synth(tmp_path, 10, 5, 64, 0)
    train, val = read_dataset(tmp_path)
    assert np.bincount(train.class_ids, minlength=5).tolist() == [2] * 5
    assert sorted(set(val.class_ids.tolist())) == [0, 1, 2, 3, 4]
    classify_synth(tmp_path, 5, 5, 64, 0)  # regenerating leaves no image of the bigger set behind
    assert len(read_dataset(tmp_path)[0].images) == 5
