"""The synthetic dataset: deterministic from the seed, read back by the real COCO reader, boxes on shapes."""

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from train.read_coco import read_coco
from train.synth import LABELS, SynthConfig, generate


def _digest(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_files_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(SynthConfig(a, train=6, val=3, size=96, seed=3))
    generate(SynthConfig(b, train=6, val=3, size=96, seed=3))
    generate(SynthConfig(c, train=6, val=3, size=96, seed=4))
    assert _digest(a) == _digest(b)
    assert len(_digest(a)) == 6 + 3 + 2
    assert _digest(a) != _digest(c)


def test_coco_reader_reads_synth_and_boxes_sit_on_shapes(tmp_path):
    generate(SynthConfig(tmp_path, train=30, val=5, size=128, seed=1))
    split = read_coco(tmp_path / "train.json")
    assert split.labels == LABELS and len(split.records) == 30 and split.skipped == 0
    classes = np.concatenate([r.class_ids for r in split.records])
    assert len(classes) >= 30 and len(set(classes.tolist())) == len(LABELS)
    sides = np.concatenate([np.maximum(r.boxes[:, 2] - r.boxes[:, 0], r.boxes[:, 3] - r.boxes[:, 1])
                            for r in split.records])
    assert sides.min() < 20 and sides.max() > 50  # scale variety
    for r in split.records:
        assert cv2.imread(str(r.image)).shape == (128, 128, 3)
        for x0, y0, x1, y1 in r.boxes:
            assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128


def test_bad_sizes_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="size 32"):
        generate(SynthConfig(tmp_path, train=1, val=1, size=32))


def test_detection_style_draws_calmer_backgrounds():
    from train.synth import CLASSIC, DETECT, _background, make_scene

    assert SynthConfig("x").style == DETECT and DETECT.min_radius > CLASSIC.min_radius and DETECT.texture < 1
    spread = {t: np.mean([_background(np.random.default_rng([9, i]), 64, t).std(axis=(0, 1)).mean()
                          for i in range(20)]) for t in (1.0, DETECT.texture)}
    assert spread[DETECT.texture] < 0.8 * spread[1.0]
    # the default (classic) scene is what the other tasks' synthetic sets were built from: unchanged draws
    a = make_scene(np.random.default_rng([0, 0, 3]), 96, 6)
    b = make_scene(np.random.default_rng([0, 0, 3]), 96, 6, CLASSIC)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
