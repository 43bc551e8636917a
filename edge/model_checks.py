"""Checks of what a loaded model says about itself against what the user asked, made when the model loads.

``check_labels_cover(info, options)``: a label list shorter than the model's class count (when the count can
be read from the output shapes) is an error at load, not at the first frame that predicts a missing class.
``check_on_label(label, detector_info, ...)``: ``on = "det:persn"`` names a label the detector does not
have; the error suggests the closest one.
"""

from __future__ import annotations

from math import prod

from .errors import ConfigError, MetadataError
from .model_spec import ModelInfo
from .schema import close_match


def class_count(info: ModelInfo) -> int | None:
    """The number of classes the model can predict, when its output shapes say it; else None."""
    # A raw head's class count is 4 + C only when our own metadata declares the layout; a layout guessed
    # from the structure may hold an objectness column or keypoints too.
    if info.task == "detect" and info.decode.get("kind") == "raw_boxes_scores" and info.source == "edgevision":
        out = next((o for o in info.outputs if o.role == "raw_boxes_scores"), None)
        if out is None or len(out.shape) != 3:
            return None
        per_anchor = out.shape[1] if info.decode.get("layout") == "channels_first" else out.shape[2]
        return per_anchor - 4 if per_anchor > 4 else None
    if info.task == "classify" and len(info.outputs) == 1 and info.outputs[0].shape:
        n = prod(int(d) for d in info.outputs[0].shape[1:]) if len(info.outputs[0].shape) > 1 else 0
        return n or None
    return None


def check_labels_cover(info: ModelInfo, options: dict | None = None) -> None:
    """MetadataError when the labels cannot name every class the model predicts."""
    n = class_count(info)
    if n is None or not info.labels:
        return
    if info.task == "classify":
        from .tasks.classify import check_labels

        check_labels(info.labels, n, int((options or {}).get("label_offset", 0) or 0),
                     f"{info.path}: labels ({info.labels_source or 'no source'})")
        return
    if len(info.labels) < n:
        raise MetadataError(
            f"{info.path}: the model has {n} classes (its output {info.outputs[0].name!r} is "
            f"{list(info.outputs[0].shape)}) but only {len(info.labels)} labels ({info.labels_source or 'no source'}); "
            f"give a labels file with {n} lines (--labels FILE, or labels = '...' in a config file)")


def check_on_label(label: str, detector: ModelInfo, model_name: str, on: str) -> None:
    """ConfigError when ``on = 'NAME:label'`` names a label the detector does not have."""
    if not detector.labels or label in detector.labels:
        return
    raise ConfigError(
        f"model {model_name!r}: on = {on!r}: the detector has no label {label!r}{close_match(label, detector.labels)}; "
        f"its labels ({detector.labels_source or 'metadata'}) are {', '.join(_first(detector.labels))}")


def _first(labels, n: int = 12) -> list[str]:
    shown = [x for x in labels if x][:n]
    return shown + (["..."] if len([x for x in labels if x]) > n else [])
