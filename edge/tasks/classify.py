"""Image classification: one score vector in, the top-k classes out.

The model's output is ``[1, C]`` (or ``[C]``): probabilities, or logits when the metadata's
``decode.score_activation`` is ``"softmax"`` (then softmax is applied here) or ``"sigmoid"``.

Labels: label ``i`` belongs to output index ``i + label_offset``. The label file decides: a file with
one line per output (e.g. ImageNet's 1001 lines starting with "background") needs no offset; a file that
leaves out a leading background slot needs ``--label-offset 1``. A count that fits neither is an error
naming both numbers; nothing is inferred from the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError, MetadataError

TOP_K = 5


@dataclass
class Classifications:
    class_ids: np.ndarray  # (k,) int32, model output indices, best first
    scores: np.ndarray  # (k,) float32
    names: tuple[str, ...]  # (k,) the label of each, or the index as text when there is no label

    def __post_init__(self) -> None:
        self.class_ids = np.asarray(self.class_ids, dtype=np.int32).reshape(-1)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.names = tuple(self.names)
        if not (len(self.class_ids) == len(self.scores) == len(self.names)):
            raise ValueError(f"Classifications: {len(self.class_ids)} ids, {len(self.scores)} scores and "
                             f"{len(self.names)} names must match")

    def __len__(self) -> int:
        return len(self.class_ids)


def softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max())
    return (e / e.sum()).astype(np.float32)


def top_k(scores: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest scores, best first (ties: lower index first)."""
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    k = min(int(k), len(scores))
    order = np.argsort(-scores, kind="stable")[:k]
    return order.astype(np.int32), scores[order]


def check_labels(labels: tuple[str, ...], num_classes: int, label_offset: int, where: str = "labels") -> None:
    """Refuse a label list that does not cover the model's outputs exactly."""
    if not labels:
        return
    if label_offset < 0:
        raise ConfigError(f"--label-offset must be 0 or more, got {label_offset}")
    if len(labels) + label_offset != num_classes:
        hint = " (pass --label-offset 1 if the file leaves out a leading background class)" \
            if len(labels) + 1 == num_classes and label_offset == 0 else ""
        raise MetadataError(
            f"{where}: {len(labels)} labels with label offset {label_offset} do not fit the model's "
            f"{num_classes} outputs{hint}"
        )


def label_of(class_id: int, labels: tuple[str, ...], label_offset: int = 0) -> str:
    i = int(class_id) - label_offset
    return labels[i] if 0 <= i < len(labels) else str(int(class_id))


def decode_scores(raw: np.ndarray, activation: str = "none") -> np.ndarray:
    raw = np.asarray(raw, dtype=np.float32)
    if raw.ndim == 2 and raw.shape[0] == 1:
        raw = raw[0]
    if raw.ndim != 1:
        raise MetadataError(f"a classifier output must be [1, C], got shape {list(np.shape(raw))}")
    if activation == "softmax":
        return softmax(raw)
    if activation == "sigmoid":
        return (1.0 / (1.0 + np.exp(-raw))).astype(np.float32)
    if activation != "none":
        raise MetadataError(f"unknown score_activation {activation!r}; expected 'none', 'softmax' or 'sigmoid'")
    return raw


def decode(outputs, info, transform=None, options: dict | None = None) -> Classifications:
    """Dequantised outputs -> the top-k classes (pure; a classifier's result does not depend on the transform)."""
    options = options or {}
    if len(outputs) != 1:
        raise MetadataError(f"{info.path}: a classifier has one output, this model has {sorted(outputs)}")
    (raw,) = outputs.values()
    scores = decode_scores(raw, str(info.decode.get("score_activation", "none")))
    offset = int(options.get("label_offset") or 0)
    check_labels(info.labels, len(scores), offset, info.labels_source or "labels")
    ids, best = top_k(scores, int(options.get("top_k") or TOP_K))
    return Classifications(ids, best, tuple(label_of(i, info.labels, offset) for i in ids))


class ClassifyAdapter:
    task = "classify"

    def decode(self, outputs, info, frame_size, options) -> Classifications:
        return decode(outputs, info, options.get("transform"), options)

    def to_json(self, result: Classifications) -> dict:
        return {"classification": [
            {"class_id": int(i), "label": name, "score": round(float(s), 4)}
            for i, s, name in zip(result.class_ids, result.scores, result.names)
        ]}

    def render(self, frame_bgr: np.ndarray, result: Classifications, options: dict | None = None) -> np.ndarray:
        out = frame_bgr.copy()
        scale = max(0.4, min(out.shape[:2]) / 600)
        line = int(round(22 * scale / 0.6))
        for row, (s, name) in enumerate(zip(result.scores, result.names)):
            text = f"{s:.2f} {name}"
            org = (8, 8 + line * (row + 1))
            cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
        return out


ADAPTER = ClassifyAdapter()
