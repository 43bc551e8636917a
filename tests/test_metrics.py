"""edge.metrics against hand-computed COCO-style APs."""

import subprocess
import sys

import numpy as np
import pytest

from edge.metrics import COCO_IOU_THRESHOLDS, average_precision, mean_average_precision
from edge.results import Detections

A = [0, 0, 10, 10]
B = [20, 20, 40, 40]


def gt(boxes, classes):
    return (np.array(boxes, np.float32).reshape(-1, 4), np.array(classes))


def pred(boxes, scores, classes):
    return (np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32), np.array(classes))


def test_perfect_predictions_score_one():
    r = mean_average_precision([gt([A, B], [0, 1])], [pred([A, B], [0.9, 0.8], [0, 1])])
    assert r.map50 == pytest.approx(1.0) and r.map50_95 == pytest.approx(1.0)


def test_false_positive_ranked_above_true_positive():
    # ranking FP, TP: precision at recall 1 is 1/2 -> AP = 0.5 at every threshold
    r = mean_average_precision([gt([A], [0])], [pred([B, A], [0.9, 0.5], [0, 0])])
    assert r.map50 == pytest.approx(0.5) and r.map50_95 == pytest.approx(0.5)


def test_false_positive_ranked_below_does_not_hurt():
    r = mean_average_precision([gt([A], [0])], [pred([A, B], [0.9, 0.5], [0, 0])])
    assert r.map50 == pytest.approx(1.0)


def test_missed_ground_truth_halves_recall():
    # 1 of 2 GT found, precision 1 up to recall 0.5: 51 of 101 recall points -> 51/101
    r = mean_average_precision([gt([A, B], [0, 0])], [pred([A], [0.9], [0])])
    assert r.map50 == pytest.approx(51 / 101)


def test_box_at_iou_061_counts_up_to_threshold_06_only():
    shifted = [0, 0, 10, 6.1]  # IoU with A = 61/100
    r = mean_average_precision([gt([A], [0])], [pred([shifted], [0.9], [0])])
    assert r.map50 == pytest.approx(1.0)
    expected = (COCO_IOU_THRESHOLDS <= 0.61).astype(float)  # 0.50, 0.55, 0.60
    np.testing.assert_allclose(r.per_class[0], expected)
    assert r.map50_95 == pytest.approx(0.3)


@pytest.mark.parametrize("preds", [pred([], [], []), Detections.empty()])
def test_empty_predictions_score_zero(preds):
    r = mean_average_precision([gt([A], [0])], [preds])
    assert r.map50 == 0.0 and r.map50_95 == 0.0


def test_classes_without_ground_truth_are_skipped():
    # class 1 only predicted, never annotated: it does not pull the mean down
    r = mean_average_precision([gt([A], [0])], [pred([A, B], [0.9, 0.8], [0, 1])])
    assert set(r.per_class) == {0} and r.map50 == pytest.approx(1.0)


def test_wrong_class_is_a_miss_and_classes_average():
    r = mean_average_precision([gt([A, B], [0, 1])], [pred([A, B], [0.9, 0.8], [0, 0])])
    # class 0: TP then FP -> AP 1; class 1: nothing -> AP 0
    assert r.map50 == pytest.approx(0.5)


def test_detections_inputs_and_multiple_images():
    g = [Detections(np.array([A]), [1.0], [0]), Detections(np.array([B]), [1.0], [0])]
    p = [Detections(np.array([A]), [0.4], [0]), Detections(np.array([A]), [0.9], [0])]
    # ranking: image 2 FP (0.9), image 1 TP (0.4) -> precision 1/2 at recall 1/2, never recall 1
    r = mean_average_precision(g, p)
    assert r.map50 == pytest.approx(0.5 * 51 / 101)


def test_duplicate_detection_is_a_false_positive():
    r = mean_average_precision([gt([A], [0])], [pred([A, A], [0.9, 0.8], [0, 0])])
    assert r.map50 == pytest.approx(1.0)  # TP first: the FP comes after full recall
    tp = np.array([[False, True]])
    assert average_precision(tp, np.array([0.9, 0.8]), 1)[0] == pytest.approx(0.5)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="2 ground-truth images but 1"):
        mean_average_precision([gt([A], [0])] * 2, [pred([], [], [])])


def test_metrics_does_not_import_tensorflow():
    code = "import sys, edge.metrics; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
