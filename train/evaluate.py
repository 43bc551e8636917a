"""Validation mAP: run the model, decode with the device's own code (edge.boxes), score with edge.metrics."""

from __future__ import annotations

import numpy as np

from edge.boxes import decode_raw_boxes_scores
from edge.metrics import MapResult, mean_average_precision

from .pipeline import val_images
from .records import Record

SCORE_THRESHOLD = 0.05  # low, so precision/recall curves reach far; the device uses its own threshold
IOU_THRESHOLD = 0.5


def predict_records(model, records: list[Record], input_size: int, batch: int = 32):
    """Per record: (boxes xyxy in original pixels, scores, class_ids)."""
    out, i = [], 0
    for images in val_images(records, input_size, batch):
        raw = model.predict_on_batch(images)  # Keras keeps this graph between calls: traced once per run
        for row in raw:
            rec = records[i]
            boxes, scores, classes = decode_raw_boxes_scores(
                row[None], layout="anchors_first", box_format="cxcywh", box_units="normalized",
                input_size=(input_size, input_size), score_threshold=SCORE_THRESHOLD,
                iou_threshold=IOU_THRESHOLD, max_detections=100)
            scale = np.array([rec.width, rec.height, rec.width, rec.height], np.float32)
            out.append((boxes * scale, scores, classes))
            i += 1
    return out


def evaluate(model, records: list[Record], input_size: int, batch: int = 32) -> MapResult:
    preds = predict_records(model, records, input_size, batch)
    return mean_average_precision([(r.boxes, r.class_ids) for r in records], preds)
