"""Classification at the edge: the zoo MobileNetV2 (uint8, 1001 classes) and the label-offset rules."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.engine import Engine
from edge.errors import ConfigError, MetadataError
from edge.metadata import read_labels
from edge.tasks import adapter_for
from edge.tasks.classify import Classifications, check_labels, decode_scores, label_of, top_k


@pytest.fixture(scope="module")
def mobilenet(zoo):
    engine = Engine(zoo / "models/mobilenet_v2_1.0_224_quant.tflite", threads=2)
    labels = read_labels(zoo / "labels/imagenet_labels.txt")
    engine.info = engine.info.with_overrides(labels=labels, labels_source="imagenet_labels.txt", task="classify")
    return engine


@pytest.mark.parametrize("image, class_id, label", [
    ("grace_hopper.bmp", 653, "military uniform"),
    ("cat.bmp", 286, "Egyptian cat"),
])
def test_mobilenet_v2_top1(zoo, mobilenet, image, class_id, label):
    adapter = adapter_for("classify")
    frame = cv2.imread(str(zoo / "images" / image))
    result, _ = mobilenet.run_frame(frame, adapter, {})
    assert len(result) == 5
    assert int(result.class_ids[0]) == class_id
    assert result.names[0] == label
    assert np.all(np.diff(result.scores) <= 0)
    top = adapter.to_json(result)["classification"]
    assert len(top) == 5
    assert top[0]["class_id"] == class_id and top[0]["label"] == label
    assert set(top[0]) == {"class_id", "label", "score"}
    assert 0.0 < top[0]["score"] <= 1.0


def test_a_label_file_without_background_needs_an_explicit_offset(zoo, mobilenet):
    frame = cv2.imread(str(zoo / "images/grace_hopper.bmp"))
    labels = read_labels(zoo / "labels/imagenet_labels.txt")[1:]  # 1000 lines, no "background"
    mobilenet.info = mobilenet.info.with_overrides(labels=labels, labels_source="1000 labels")
    adapter = adapter_for("classify")
    with pytest.raises(MetadataError, match=r"1000 labels .* 1001 outputs.*--label-offset 1"):
        mobilenet.run_frame(frame, adapter, {})
    result, _ = mobilenet.run_frame(frame, adapter, {"label_offset": 1})
    assert int(result.class_ids[0]) == 653 and result.names[0] == "military uniform"
    mobilenet.info = mobilenet.info.with_overrides(labels=read_labels(zoo / "labels/imagenet_labels.txt"))


@pytest.mark.parametrize("n_labels, offset, ok", [(10, 0, True), (9, 1, True), (9, 0, False), (11, 0, False),
                                                  (8, 1, False), (0, 0, True)])
def test_check_labels(n_labels, offset, ok):
    labels = tuple(f"l{i}" for i in range(n_labels))
    if ok:
        check_labels(labels, 10, offset)
    else:
        with pytest.raises(MetadataError, match="do not fit the model's 10 outputs"):
            check_labels(labels, 10, offset)


def test_negative_offset_is_refused():
    with pytest.raises(ConfigError, match="--label-offset"):
        check_labels(("a",), 1, -1)


def test_top_k_and_labels():
    ids, scores = top_k(np.array([0.1, 0.5, 0.2, 0.5, 0.0]), 3)
    assert ids.tolist() == [1, 3, 2] and scores.tolist() == pytest.approx([0.5, 0.5, 0.2])
    assert label_of(3, ("bg", "a", "b", "c")) == "c"
    assert label_of(3, ("a", "b", "c"), 1) == "c"
    assert label_of(7, ("a",)) == "7"


@pytest.mark.parametrize("activation", ["none", "softmax", "sigmoid"])
def test_decode_scores_activations(activation):
    raw = np.array([[1.0, 2.0, 0.5]], np.float32)
    s = decode_scores(raw, activation)
    assert s.shape == (3,) and int(np.argmax(s)) == 1
    if activation == "softmax":
        assert s.sum() == pytest.approx(1.0)


def test_decode_scores_rejects_bad_input():
    with pytest.raises(MetadataError, match=r"\[1, C\]"):
        decode_scores(np.zeros((1, 4, 4)))
    with pytest.raises(MetadataError, match="score_activation"):
        decode_scores(np.zeros((1, 4)), "relu")


def test_json_shape():
    r = Classifications([653, 1], [0.92, 0.01], ["military uniform", "background"])
    assert adapter_for("classify").to_json(r) == {"classification": [
        {"class_id": 653, "label": "military uniform", "score": 0.92},
        {"class_id": 1, "label": "background", "score": 0.01}]}
