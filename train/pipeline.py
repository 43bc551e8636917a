"""tf.data input pipeline: decode, box-preserving augmentation, stretch resize, target encoding, batching.

Boxes travel as xyxy normalised to 0..1 of the current image. Targets per image are ``[N, 4 + C + 1]``:
the assigned box (xyxy normalised), the one-hot class (zeros for negatives), and a positive flag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .model import DetectorConfig, anchor_grid
from .records import Record

MIN_KEPT = 0.4  # a box cut by a crop is dropped when less than this fraction of it stays inside
CENTRE_RADIUS = 1.0  # strides: a cell is positive for an object whose centre is this close (what its decode reaches)
MAX_RATIO = 3.5  # object size / level base size allowed (the decode reaches 4x)


@dataclass
class AugmentConfig:
    flip: float = 0.5  # probability of a horizontal flip
    vflip: float = 0.0  # probability of a vertical flip: for scenes with no up or down (microscope slides, aerial)
    crop: float = 0.5  # probability of a random crop
    crop_min: float = 0.55  # smallest crop side as a fraction of the image side
    colour: bool = True


def flip_horizontal(image, boxes):
    """Mirror an image [H, W, 3] and its normalised xyxy boxes."""
    x0, y0, x1, y1 = tf.unstack(boxes, 4, axis=-1)
    return tf.reverse(image, [1]), tf.stack([1.0 - x1, y0, 1.0 - x0, y1], -1)


def flip_vertical(image, boxes):
    """Turn an image [H, W, 3] and its normalised xyxy boxes upside down."""
    x0, y0, x1, y1 = tf.unstack(boxes, 4, axis=-1)
    return tf.reverse(image, [0]), tf.stack([x0, 1.0 - y1, x1, 1.0 - y0], -1)


def crop(image, boxes, classes, window):
    """Cut ``window`` (x0, y0, x1, y1 normalised) out of the image; clip boxes, drop mostly-cut ones."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    h, w = shape[0], shape[1]
    wx0, wy0, wx1, wy1 = tf.unstack(window)
    px0, py0 = tf.cast(tf.round(wx0 * w), tf.int32), tf.cast(tf.round(wy0 * h), tf.int32)
    px1, py1 = tf.cast(tf.round(wx1 * w), tf.int32), tf.cast(tf.round(wy1 * h), tf.int32)
    out = image[py0:py1, px0:px1]
    # use the pixel-exact window so boxes line up with the cut pixels
    wx0, wy0 = tf.cast(px0, tf.float32) / w, tf.cast(py0, tf.float32) / h
    ww, wh = tf.cast(px1 - px0, tf.float32) / w, tf.cast(py1 - py0, tf.float32) / h
    scaled = (boxes - tf.stack([wx0, wy0, wx0, wy0])) / tf.stack([ww, wh, ww, wh])
    clipped = tf.clip_by_value(scaled, 0.0, 1.0)

    def area(b):
        return tf.maximum(b[:, 2] - b[:, 0], 0.0) * tf.maximum(b[:, 3] - b[:, 1], 0.0)

    keep = area(clipped) >= MIN_KEPT * tf.maximum(area(scaled), 1e-12)
    keep &= (clipped[:, 2] - clipped[:, 0]) * ww * w >= 2.0
    keep &= (clipped[:, 3] - clipped[:, 1]) * wh * h >= 2.0
    return out, tf.boolean_mask(clipped, keep), tf.boolean_mask(classes, keep)


def random_window(aug: AugmentConfig):
    sw = tf.random.uniform([], aug.crop_min, 1.0)
    sh = tf.random.uniform([], aug.crop_min, 1.0)
    x0 = tf.random.uniform([], 0.0, 1.0 - sw)
    y0 = tf.random.uniform([], 0.0, 1.0 - sh)
    return tf.stack([x0, y0, x0 + sw, y0 + sh])


def colour_jitter(image):
    """image float 0..255 -> jittered brightness, contrast, saturation and hue, still 0..255."""
    x = image / 255.0
    x = tf.image.random_brightness(x, 0.15)
    x = tf.image.random_contrast(x, 0.7, 1.3)
    x = tf.image.random_saturation(x, 0.6, 1.4)
    x = tf.image.random_hue(x, 0.04)
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def augment(image, boxes, classes, aug: AugmentConfig):
    """image uint8/float [H, W, 3], boxes normalised xyxy -> augmented (float 0..255, boxes, classes)."""
    image = tf.cast(image, tf.float32)
    if aug.flip > 0:
        image, boxes = tf.cond(tf.random.uniform([]) < aug.flip, lambda: flip_horizontal(image, boxes),
                               lambda: (image, boxes))
    if aug.vflip > 0:
        image, boxes = tf.cond(tf.random.uniform([]) < aug.vflip, lambda: flip_vertical(image, boxes),
                               lambda: (image, boxes))
    if aug.crop > 0:
        image, boxes, classes = tf.cond(
            tf.random.uniform([]) < aug.crop, lambda: crop(image, boxes, classes, random_window(aug)),
            lambda: (image, boxes, classes))
    if aug.colour:
        image = colour_jitter(image)
    return image, boxes, classes


class TargetEncoder:
    """Centre-sampling assignment per level by object size -> per-row targets for the loss."""

    def __init__(self, config: DetectorConfig):
        grid = anchor_grid(config)
        self.size = float(config.input_size)
        self.num_classes = config.num_classes
        self.cx, self.cy = tf.constant(grid["cx"])[:, None], tf.constant(grid["cy"])[:, None]
        self.stride, self.base = tf.constant(grid["stride"])[:, None], tf.constant(grid["base"])[:, None]
        self.first_level = tf.constant(grid["stride"] == min(config.strides))[:, None]

    def __call__(self, boxes, classes):
        boxes = tf.concat([tf.reshape(tf.cast(boxes, tf.float32), [-1, 4]), [[-9.0, -9.0, -8.0, -8.0]]], 0)
        classes = tf.concat([tf.reshape(tf.cast(classes, tf.int32), [-1]), [0]], 0)
        px = boxes * self.size
        gcx, gcy = (px[:, 0] + px[:, 2]) / 2, (px[:, 1] + px[:, 3]) / 2
        gw, gh = px[:, 2] - px[:, 0], px[:, 3] - px[:, 1]
        near = (tf.abs(gcx[None] - self.cx) < CENTRE_RADIUS * self.stride) & \
               (tf.abs(gcy[None] - self.cy) < CENTRE_RADIUS * self.stride)
        ratio = tf.maximum(gw, gh)[None] / self.base
        sized = (ratio < MAX_RATIO) & ((ratio > 1.0 / MAX_RATIO) | self.first_level)
        pos = near & sized
        cost = tf.where(pos, (gw * gh)[None] + tf.zeros_like(self.cx), np.float32(np.inf))
        idx = tf.argmin(cost, axis=1, output_type=tf.int32)
        positive = tf.reduce_any(pos, axis=1)
        flag = tf.cast(positive, tf.float32)[:, None]
        box = tf.gather(boxes, idx)
        cls = tf.one_hot(tf.gather(classes, idx), self.num_classes) * flag
        return tf.concat([box, cls, flag], -1)


def _records_tensors(records: list[Record]):
    paths = [str(r.image) for r in records]
    norm = [r.boxes / np.array([r.width, r.height, r.width, r.height], np.float32) for r in records]
    boxes = tf.ragged.constant([b.tolist() for b in norm], ragged_rank=1, inner_shape=(4,), dtype=tf.float32)
    classes = tf.ragged.constant([r.class_ids.tolist() for r in records], dtype=tf.int32)
    return paths, boxes, classes


def load_image(path):
    return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)


def make_dataset(records: list[Record], config: DetectorConfig, batch: int, training: bool,
                 aug: AugmentConfig | None = None, seed: int = 0) -> tf.data.Dataset:
    """Batches of (image [B, S, S, 3] float 0..1, targets [B, N, 4 + C + 1]); val keeps record order."""
    if not records:
        raise ValueError("make_dataset: no records to train or validate on")
    aug = aug or AugmentConfig()
    encoder = TargetEncoder(config)
    size = config.input_size
    paths, boxes, classes = _records_tensors(records)
    ds = tf.data.Dataset.from_tensor_slices((paths, boxes, classes))
    if training:
        ds = ds.shuffle(len(records), seed=seed, reshuffle_each_iteration=True)

    def prepare(path, b, c):
        image = load_image(path)
        b = b.to_tensor(shape=[None, 4]) if isinstance(b, tf.RaggedTensor) else b
        if training:
            image, b, c = augment(image, b, c, aug)
        image = tf.image.resize(tf.cast(image, tf.float32), [size, size]) / 255.0
        return image, encoder(b, c)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    return ds.batch(batch, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def val_images(records: list[Record], size: int, batch: int) -> tf.data.Dataset:
    """Val images only, resized like the device does (stretch), in record order."""
    ds = tf.data.Dataset.from_tensor_slices([str(r.image) for r in records])
    ds = ds.map(lambda p: tf.image.resize(tf.cast(load_image(p), tf.float32), [size, size]) / 255.0,
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch).prefetch(tf.data.AUTOTUNE)
