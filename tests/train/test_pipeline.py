"""Augmentation keeps boxes on the pixels they mark; target encoding assigns objects to the right rows."""

import numpy as np
import pytest
import tensorflow as tf

from train.model import DetectorConfig, anchor_grid
from train.pipeline import (AugmentConfig, TargetEncoder, augment, crop, flip_horizontal, flip_vertical,
                            make_dataset)
from train.records import Record

H, W = 60, 80


def _scene():
    """A black image with a white rectangle at pixels x 10..30, y 20..50 (and its normalised box)."""
    img = np.zeros((H, W, 3), np.uint8)
    img[20:50, 10:30] = 255
    return img, np.array([[10 / W, 20 / H, 30 / W, 50 / H]], np.float32)


def _white_box(img) -> list[int]:
    ys, xs = np.nonzero(np.asarray(img)[..., 0] > 127)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def _to_pixels(box, img):
    h, w = np.asarray(img).shape[:2]
    return np.round(np.asarray(box) * [w, h, w, h]).astype(int).tolist()


def test_flip_moves_box_with_the_pixels():
    img, boxes = _scene()
    out, b = flip_horizontal(tf.constant(img), tf.constant(boxes))
    assert _white_box(out) == _to_pixels(b.numpy()[0], out) == [50, 20, 70, 50]


def test_vertical_flip_moves_box_with_the_pixels():
    img, boxes = _scene()
    out, b = flip_vertical(tf.constant(img), tf.constant(boxes))
    assert _white_box(out) == _to_pixels(b.numpy()[0], out) == [10, 10, 30, 40]


def test_vflip_option_is_checked_and_recorded(tmp_path, capsys):
    from train.cli import main

    assert main(["detect", "--out", str(tmp_path / "r"), "--vflip", "1.5"]) == 2
    assert "--vflip" in capsys.readouterr().err and not (tmp_path / "r").exists()


@pytest.mark.parametrize("window", [(0.0, 0.0, 1.0, 1.0), (0.05, 0.1, 0.6, 0.9), (0.1, 0.2, 1.0, 0.75)])
def test_crop_keeps_box_on_the_pixels(window):
    img, boxes = _scene()
    out, b, c = crop(tf.constant(img), tf.constant(boxes), tf.constant([3]), tf.constant(window, tf.float32))
    assert c.numpy().tolist() == [3]
    assert _white_box(out) == _to_pixels(b.numpy()[0], out)


def test_crop_drops_a_box_mostly_cut_away():
    img, boxes = _scene()
    # window x 25..80 px keeps 5 of the rectangle's 20 px width: 25 % < 40 %
    out, b, c = crop(tf.constant(img), tf.constant(boxes), tf.constant([1]), tf.constant([25 / W, 0, 1, 1], tf.float32))
    assert b.shape[0] == 0 and c.shape[0] == 0


def test_random_augmentations_keep_boxes_right():
    tf.random.set_seed(5)
    img, boxes = _scene()
    aug = AugmentConfig(flip=0.5, crop=1.0, crop_min=0.7, colour=False)
    seen_flip = False
    for _ in range(12):
        out, b, _ = augment(tf.constant(img), tf.constant(boxes), tf.constant([0]), aug)
        if b.shape[0]:
            resized = tf.image.resize(out, [64, 64], method="nearest").numpy()
            got, want = np.array(_white_box(resized)), np.array(_to_pixels(b.numpy()[0], resized))
            assert np.abs(got - want).max() <= 1
            seen_flip |= want[0] > 32
    assert seen_flip


def test_target_encoder_assigns_by_size_and_centre():
    cfg = DetectorConfig(num_classes=3, input_size=256).validate()
    grid = anchor_grid(cfg)
    small = [100 / 256, 100 / 256, 112 / 256, 114 / 256]  # 12x14 px: stride-8 level only
    large = [10 / 256, 10 / 256, 210 / 256, 250 / 256]  # 200x240 px: stride-32 level
    t = TargetEncoder(cfg)(tf.constant([small, large]), tf.constant([2, 1])).numpy()
    assert t.shape == (cfg.num_anchors(), 4 + 3 + 1)
    pos = t[:, -1] > 0
    small_rows = pos & (t[:, 6] > 0)
    assert set(grid["stride"][small_rows]) == {8} and small_rows.sum() >= 1
    assert np.all(np.abs(grid["cx"][small_rows] - 106) < 8) and np.all(np.abs(grid["cy"][small_rows] - 107) < 8)
    large_rows = pos & (t[:, 5] > 0)
    assert set(grid["stride"][large_rows]) <= {16, 32} and 32 in set(grid["stride"][large_rows])
    np.testing.assert_allclose(t[small_rows, :4], np.tile(small, (small_rows.sum(), 1)), atol=1e-6)
    empty = TargetEncoder(cfg)(tf.zeros([0, 4]), tf.zeros([0], tf.int32)).numpy()
    assert empty[:, 4:].sum() == 0


def test_make_dataset_batches_images_and_targets(tmp_path):
    import cv2

    img, boxes = _scene()
    cv2.imwrite(str(tmp_path / "a.png"), img)
    rec = Record(tmp_path / "a.png", W, H, boxes * [W, H, W, H], [1], "x", "a")
    cfg = DetectorConfig(num_classes=2, input_size=64).validate(allow_small=True)
    x, y = next(iter(make_dataset([rec] * 4, cfg, batch=2, training=True)))
    assert x.shape == (2, 64, 64, 3) and y.shape == (2, cfg.num_anchors(), 2 + 4 + 1)
    assert 0.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
    assert float(tf.reduce_sum(y[..., -1])) > 0
