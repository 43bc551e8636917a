"""Segmentation at the edge: real zoo DeepLab models, frame-resolution maps, JSON and renderers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.engine import Engine
from edge.errors import ConfigError, MetadataError
from edge.metadata import read_labels
from edge.preprocess import Transform
from edge.tasks import adapter_for
from edge.tasks.segment import Segmentation, palette, render_overlay, render_side_by_side
from edge.tasks.segment_map import class_fractions, class_map_at_frame, class_map_at_output, output_kind


def _run(engine: Engine, frame: np.ndarray, **options):
    adapter = adapter_for("segment")
    result, _ = engine.run_frame(frame, adapter, options)
    return adapter, result


@pytest.fixture(scope="module")
def deeplab_float(zoo):
    return Engine(zoo / "models/deeplabv3_257_mv_gpu.tflite", threads=2)


@pytest.fixture(scope="module")
def deeplab_quant(zoo):
    return Engine(zoo / "models/deeplabv3_mnv2_pascal_quant.tflite", threads=2)


def test_deeplab_float_reproduces_golden_mask_at_257(zoo, deeplab_float):
    frame = cv2.imread(str(zoo / "images/segmentation_input_rotation0.jpg"))
    golden = cv2.imread(str(zoo / "expected/segmentation_golden_rotation0.png"), cv2.IMREAD_UNCHANGED) // 10
    tensor, _ = deeplab_float.prepare(frame)
    output = next(iter(deeplab_float.infer(tensor).values()))
    assert output_kind(output) == "logits"
    at_257 = class_map_at_output(output)
    assert at_257.shape == golden.shape == (257, 257)
    assert np.mean(at_257 == golden) >= 0.99
    # The frame here is 257x257 too, so the frame-resolution map must agree the same way.
    adapter, result = _run(deeplab_float, frame)
    assert result.class_map.shape == frame.shape[:2]
    assert np.mean(result.class_map == golden) >= 0.99
    classes = adapter.to_json(result)["segmentation"]["classes"]
    assert set(classes) == {"background", "horse", "person"}
    assert abs(sum(classes.values()) - 1.0) < 1e-3


def test_deeplab_float_map_follows_a_larger_non_square_frame(zoo, deeplab_float):
    frame = cv2.imread(str(zoo / "images/segmentation_input_rotation0.jpg"))
    golden = cv2.imread(str(zoo / "expected/segmentation_golden_rotation0.png"), cv2.IMREAD_UNCHANGED) // 10
    big = cv2.resize(frame, (640, 480), interpolation=cv2.INTER_CUBIC)
    _, result = _run(deeplab_float, big)
    assert result.class_map.shape == (480, 640)
    golden_big = cv2.resize(golden, (640, 480), interpolation=cv2.INTER_NEAREST)
    agree = np.mean(result.class_map == golden_big)
    assert agree >= 0.97, agree  # borders move by up to a model pixel; everything else must match
    # Fractions are measured on the frame-size map and match the golden's shares closely.
    for cid in (0, 13, 15):
        assert abs(result.fractions[cid] - np.mean(golden == cid)) < 0.02


def array_iou(a: np.ndarray, b: np.ndarray) -> float:
    """The zoo README's IoU: equal pixels / (2N - equal pixels)."""
    equal = int(np.sum(a == b))
    return equal / (2 * a.size - equal)


def test_deeplab_quant_argmax_bird_iou(zoo, deeplab_quant):
    frame = cv2.imread(str(zoo / "images/bird_segmentation.bmp"))
    expected = cv2.imread(str(zoo / "expected/bird_segmentation_mask.bmp"), cv2.IMREAD_GRAYSCALE)
    labels = read_labels(zoo / "labels/pascal_voc_segmentation_labels.txt")
    deeplab_quant.info = deeplab_quant.info.with_overrides(labels=labels, labels_source="test", task="segment")
    adapter, result = _run(deeplab_quant, frame)
    assert result.class_map.shape == expected.shape == (513, 513)
    assert array_iou(result.class_map, expected) > 0.90
    classes = adapter.to_json(result)["segmentation"]["classes"]
    assert "bird" in classes and classes["bird"] > 0.05


def test_upstream_answers_hold_with_the_area_downscale_of_a_large_frame(zoo, deeplab_float, deeplab_quant):
    """The family's resize is the anti-aliased area downscale (edge/families.py, deeplab row): from frames 4x
    the zoo images (1028 and 2052 px), both DeepLab files still meet upstream's checks."""
    assert deeplab_float.info.input.interpolation == deeplab_quant.info.input.interpolation == "area"
    for engine, image, golden, check in (
            (deeplab_float, "segmentation_input_rotation0.jpg",
             cv2.imread(str(zoo / "expected/segmentation_golden_rotation0.png"), cv2.IMREAD_UNCHANGED) // 10,
             lambda ours, want: np.mean(ours == want) >= 0.97),  # as the non-square test above (0.991 measured)
            (deeplab_quant, "bird_segmentation.bmp",
             cv2.imread(str(zoo / "expected/bird_segmentation_mask.bmp"), cv2.IMREAD_GRAYSCALE),
             lambda ours, want: array_iou(ours, want) > 0.90)):  # upstream's bird check (0.959 measured)
        frame = cv2.imread(str(zoo / "images" / image))
        big = cv2.resize(frame, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
        _, result = _run(engine, big)
        want = cv2.resize(golden, (big.shape[1], big.shape[0]), interpolation=cv2.INTER_NEAREST)
        assert result.class_map.shape == want.shape and check(result.class_map, want), image


def test_argmax_map_resampled_nearest_keeps_indices(zoo, deeplab_quant):
    frame = cv2.imread(str(zoo / "images/bird_segmentation.bmp"))
    small = cv2.resize(frame, (300, 200))
    _, result = _run(deeplab_quant, small)
    assert result.class_map.shape == (200, 300)
    assert set(np.unique(result.class_map)) <= {0, 3}


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_class_map_lands_on_the_right_frame_pixels(resize):
    # A hand-made 2-class logit map at 8x8 over a 16x8 input: class 1 on the right half of the input.
    frame_size, input_size = (40, 10), (16, 8)
    logits = np.zeros((1, 8, 8, 2), np.float32)
    logits[0, :, :4, 0] = 1.0
    logits[0, :, 4:, 1] = 1.0
    if resize == "stretch":
        t = Transform(frame_size, input_size, 16 / 40, 8 / 10)
    else:  # frame 40x10 letterboxed into 16x8: scale 0.4, image 16x4, padded 2 rows top and bottom
        t = Transform(frame_size, input_size, 0.4, 0.4, 0.0, 2.0)
    m = class_map_at_frame(logits, t)
    assert m.shape == (10, 40)
    assert (m[:, :20] == 0).all() and (m[:, 20:] == 1).all()  # the input's middle is frame column 20
    classes = np.argmax(logits, axis=3).astype(np.float32)  # the same as an ArgMax output
    assert np.array_equal(class_map_at_frame(classes, t)[:, :19], m[:, :19])
    assert np.array_equal(class_map_at_frame(classes, t)[:, 21:], m[:, 21:])


@pytest.mark.parametrize("shape, kind", [((1, 5, 5, 21), "logits"), ((1, 5, 5), "classes"),
                                         ((1, 5, 5, 1), "classes")])
def test_output_kind(shape, kind):
    assert output_kind(np.zeros(shape, np.float32)) == kind


@pytest.mark.parametrize("shape", [(5, 5), (2, 5, 5, 3), (1, 5)])
def test_output_kind_rejects_other_shapes(shape):
    with pytest.raises(MetadataError, match="segmentation output"):
        output_kind(np.zeros(shape, np.float32))


def test_fractions_and_json_shape():
    m = np.array([[0, 0, 1, 1], [0, 0, 2, 2]])
    frac = class_fractions(m, 4)
    assert frac.tolist() == [0.5, 0.25, 0.25, 0.0]
    result = Segmentation(m, frac, ("background", "cat", "dog", "cow"))
    assert adapter_for("segment").to_json(result) == {
        "segmentation": {"classes": {"background": 0.5, "cat": 0.25, "dog": 0.25}}}


def test_renderers_draw_classes_and_legend():
    frame = np.full((60, 80, 3), 128, np.uint8)
    m = np.zeros((60, 80), np.int32)
    m[20:40, 30:60] = 15
    result = Segmentation(m, class_fractions(m, 21), ("background",) + tuple(f"c{i}" for i in range(1, 21)))
    over = render_overlay(frame, result)
    assert over.shape == frame.shape
    assert (over[55, 75] == 128).all()  # background stays clear
    expected = (0.5 * 128 + 0.5 * palette(16)[15].astype(float)).round()
    assert np.abs(over[35, 55].astype(float) - expected).max() <= 1
    side = render_side_by_side(frame, result)
    assert side.shape == (60, 160, 3)
    assert (side[:, :80] == frame).all()
    assert (side[35, 80 + 55] == palette(16)[15]).all()


def test_unknown_view_is_refused(zoo, deeplab_float):
    frame = cv2.imread(str(zoo / "images/segmentation_input_rotation0.jpg"))
    with pytest.raises(ConfigError, match="--seg-view"):
        _run(deeplab_float, frame, seg_view="mosaic")


def test_overlay_background_comes_from_the_labels_not_index_0():
    frame = np.full((20, 30, 3), 100, np.uint8)
    m = np.zeros((20, 30), np.int32)
    m[:, 10:20], m[:, 20:] = 1, 2
    camvid = Segmentation(m, class_fractions(m, 3), ("Sky", "Road", "Car"))  # class 0 is Sky: painted
    over = render_overlay(frame, camvid)
    assert (over[15, 2] != 100).any() and (over[15, 12] != 100).any()
    late = Segmentation(m, class_fractions(m, 3), ("road", "car", "Background"))  # background at index 2
    over = render_overlay(frame, late)
    assert (over[15, 25] == 100).all() and (over[15, 2] != 100).any()


def test_the_view_is_a_rendering_option_not_part_of_the_result(zoo, deeplab_float):
    """One result per frame whatever the drawing: the adapter draws it as the stage's options ask."""
    frame = cv2.imread(str(zoo / "images/segmentation_input_rotation0.jpg"))
    _, plain = _run(deeplab_float, frame)
    adapter, side = _run(deeplab_float, frame, seg_view="side-by-side")
    assert (plain.class_map == side.class_map).all() and not hasattr(side, "view")
    h, w = frame.shape[:2]
    assert adapter.render(frame, side).shape == (h, w, 3)
    assert adapter.render(frame, side, {"seg_view": "side-by-side"}).shape == (h, 2 * w, 3)
    with pytest.raises(ConfigError, match="--seg-view 'mosaic'"):
        adapter.render(frame, side, {"seg_view": "mosaic"})
