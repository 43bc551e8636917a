"""The synthetic segmentation set: shapes big enough to tell apart at the model's input size, and a cached
set that is regenerated when the generator or its settings change (it used to be reused whatever was asked)."""

from __future__ import annotations

import json
from argparse import Namespace

import numpy as np
import pytest

from train.segment.data import read_voc_split
from train.synthetic_cache import MARKER
from train.synth import make_scene
from train.segment.data import SEGMENT_STYLE
from train.segment.entry import trainer as _segment


def test_every_shape_radius_is_at_least_six_percent_of_the_side():
    # CLASSIC drew radii down to 3% (4 px at 128: a star or cross of a few pixels, no shape left to learn)
    size = 128
    for i in range(60):
        _, owner, masks, _ = make_scene(np.random.default_rng([0, 200, i]), size, 4, SEGMENT_STYLE)
        for m in masks:  # drawn area before occlusion; the smallest shapes (star, triangle) cover ~1.3 r^2
            assert m.sum() >= 1.1 * (0.06 * size) ** 2, f"scene {i}: a shape of {int(m.sum())} px"


def _args(size, n_train):
    return Namespace(data=None, format="voc", input_size=size, width=0.35, argmax=False, batch=2, seed=0,
                     synth_train=n_train, synth_val=2)


def test_cli_regenerates_a_stale_set_at_the_asked_size(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task = _segment(_args(64, 4))
    assert len(task.train.samples) == 4
    task = _segment(_args(96, 6))  # another size and count: a new set, old files gone
    root = tmp_path / "data" / "synth-segment"
    assert len(task.train.samples) == 6 and len(list((root / "JPEGImages").iterdir())) == 8
    assert json.loads((root / MARKER).read_text())["size"] == 96
    from train.segment.data import load_sample

    img, mask = load_sample(read_voc_split(root, "val").samples[0])
    assert img.shape == (96, 96, 3) and mask.shape == (96, 96)
