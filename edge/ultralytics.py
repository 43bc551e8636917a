"""Recognise Ultralytics YOLO exports and the classic YOLOv5 head, and fix their decoding plan at load.

An Ultralytics export appends a zip to the .tflite holding one metadata file: ``metadata.json`` (JSON, newer
exports) or ``temp_meta.txt`` (a Python dict repr, older ones; read with ``ast.literal_eval``, never eval).
From it come ``names`` (the labels), ``imgsz``, ``stride``, ``task`` (detect, pose, segment), ``kpt_shape``
and ``end2end`` / ``args.nms`` (NMS already inside the graph). The plan this module returns says:

* input: letterbox to ``imgsz`` (pad 114, centred), RGB, /255 (or the int8/uint8 input quantization), NHWC or
  the channels-first ``[1, 3, H, W]`` of litert-torch exports;
* ``decode.kind = "ultralytics"``: which output is the head and which the mask prototypes, its layout, the
  number of classes, keypoint shape and mask coefficients, and the family's defaults (score 0.25, class-aware
  NMS at IoU 0.7, 300 detections, as Ultralytics' predict).

A file without metadata whose single output is ``[1, 3 * sum((S/s)^2 for s in 8, 16, 32), 5 + C]`` is the
classic anchor-based YOLOv5 export (``yolov5`` repo ``export.py``): ``decode.kind = "yolov5_anchors"``,
score = objectness x class, IoU 0.45 and 1000 detections as its ``detect.py``; it needs ``--labels``.
The decoding itself lives in ``edge.tasks.yolo``.
"""

from __future__ import annotations

import ast
import json
from dataclasses import replace

from .errors import MetadataError
from .model_file import ModelFile
from .model_spec import ModelInfo, OutputSpec

METADATA_FILES = ("metadata.json", "temp_meta.txt")
TASKS = ("detect", "pose", "segment")
# Ultralytics predict defaults (conf, iou, max_det) and YOLOv5 detect.py's
ULTRALYTICS_DEFAULTS = {"score": 0.25, "iou": 0.7, "max_detections": 300}
YOLOV5_DEFAULTS = {"score": 0.25, "iou": 0.45, "max_detections": 1000}
YOLOV5_STRIDES = (8, 16, 32)


def read_ultralytics_metadata(mf: ModelFile) -> dict | None:
    """The metadata dict Ultralytics appended to the model, or None when the file carries none.

    A zip that cannot be read, a metadata file that does not parse, or one that is not a dict raise
    ``ModelError`` / ``MetadataError`` naming the file and the entry.
    """
    files = mf.associated_files  # raises ModelError for an unreadable zip
    name = next((n for n in METADATA_FILES if n in files), None)
    if name is None:
        return None
    where = f"{mf.path}: Ultralytics metadata {name!r}"
    try:
        text = files[name].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{where} is not UTF-8 ({exc})") from None
    try:
        meta = json.loads(text) if name.endswith(".json") else ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        kind = "JSON" if name.endswith(".json") else "a Python literal dict"
        raise MetadataError(f"{where} is not {kind} ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise MetadataError(f"{where} holds a {type(meta).__name__}, expected a dict")
    return meta


def recognise_ultralytics(mf: ModelFile, tensor_input, quantization: str):
    """ModelInfo for an Ultralytics export or a classic YOLOv5 file, else None.

    ``tensor_input`` is the InputSpec read from the input tensor alone (dtype, quantization, layout).
    """
    meta = read_ultralytics_metadata(mf)
    if meta is not None and ("names" in meta or "imgsz" in meta):
        return _from_metadata(mf, meta, tensor_input, quantization)
    return _classic_yolov5(mf, tensor_input, quantization)


# ------------------------------------------------------------------------------------------ metadata


def _letterbox_input(spec):
    """Letterbox, RGB, pixel / 255; integer inputs quantized from that float as upstream does (truncated)."""
    rounding = "truncate" if spec.dtype in ("int8", "uint8") and spec.scale else "nearest"
    return replace(spec, resize="letterbox", color="RGB", mean=(0.0,) * 3, std=(255.0,) * 3, rounding=rounding)


def labels_from_names(names, where: str) -> tuple[str, ...]:
    """Ultralytics ``names``: {0: 'person', ...} (keys int, or str in JSON) or a list -> labels by class id."""
    if isinstance(names, (list, tuple)):
        return tuple(str(n) for n in names)
    if not isinstance(names, dict) or not names:
        raise MetadataError(f"{where}: field 'names' must be a non-empty dict of class id -> name, got {names!r:.80}")
    try:
        by_id = {int(k): str(v) for k, v in names.items()}
    except (TypeError, ValueError):
        raise MetadataError(f"{where}: field 'names' has a key that is not a class id: {list(names)[:5]}") from None
    if sorted(by_id) != list(range(len(by_id))):
        raise MetadataError(f"{where}: field 'names' must number classes 0..{len(by_id) - 1}, got ids "
                            f"{sorted(by_id)[:10]}")
    return tuple(by_id[i] for i in range(len(by_id)))


def _imgsz(meta: dict, where: str) -> tuple[int, int] | None:
    """(height, width) from ``imgsz`` (an int or [h, w]), None when absent."""
    size = meta.get("imgsz")
    if size is None:
        return None
    if isinstance(size, int):
        return size, size
    if isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size):
        return int(size[0]), int(size[1])
    raise MetadataError(f"{where}: field 'imgsz' must be an int or [height, width], got {size!r}")


def _from_metadata(mf: ModelFile, meta: dict, spec, quantization: str):

    where = f"{mf.path}: Ultralytics metadata"
    task = meta.get("task", "detect")
    if task not in TASKS:
        raise MetadataError(f"{where}: task {task!r} is not decoded by this runtime; Ultralytics exports of "
                            f"{', '.join(TASKS)} are")
    labels = labels_from_names(meta.get("names", {}), where) if "names" in meta else ()
    size = _imgsz(meta, where)
    if size is not None and size != (spec.height, spec.width):
        raise MetadataError(f"{where}: imgsz {list(size)} (height, width) does not match the input tensor "
                            f"{spec.height}x{spec.width}")
    if spec.channels != 3:
        raise MetadataError(f"{where}: expected a 3-channel image input, the input tensor has {spec.channels}")
    args = meta.get("args") if isinstance(meta.get("args"), dict) else {}
    end2end = bool(meta.get("end2end", False) or args.get("nms", False))
    kpt_shape = tuple(meta.get("kpt_shape") or ()) if task == "pose" else ()
    if task == "pose" and (len(kpt_shape) != 2 or kpt_shape[1] not in (2, 3)):
        raise MetadataError(f"{where}: a pose model needs kpt_shape [K, 2 or 3], got {meta.get('kpt_shape')!r}")
    nc = len(labels)
    sg = mf.main
    outs = sg.output_tensors()
    heads = [t for t in outs if len(t.shape) == 3]
    protos = [t for t in outs if len(t.shape) == 4]
    if len(heads) != 1 or (task == "segment") != bool(protos):
        raise MetadataError(
            f"{where}: a {task} export should have one [1, C, N] head" + (" and one prototype-mask output"
                                                                          if task == "segment" else "")
            + "; the model's outputs are " + ", ".join(f"{t.name} {list(t.shape)}" for t in outs))
    head = heads[0]
    # Ultralytics' TFLite heads: [1, 4 + nc + extra, anchors] (channels first); after NMS in the graph
    # [1, max_det, 6 + extra]. The widths are checked against the metadata, never guessed from sizes.
    layout = "anchors_first" if end2end else "channels_first"
    width = head.shape[2] if end2end else head.shape[1]
    extra = kpt_shape[0] * kpt_shape[1] if kpt_shape else 0
    decode = {"kind": "ultralytics", "head": task, "end2end": end2end, "nc": nc,
              "kpt_shape": list(kpt_shape), "layout": layout, **ULTRALYTICS_DEFAULTS}
    outputs = [OutputSpec(head.name, "yolo_head", head.shape)]
    if not nc and not end2end:  # no names: the classes are what the head leaves after the other columns
        nc = decode["nc"] = width - 4 - extra if task != "segment" else 0
    if task == "segment":
        p = protos[0]
        nm = width - (6 if end2end else 4 + nc)  # the mask coefficients: what the head has after box and classes
        on_last, on_first = p.shape[3] == nm, p.shape[1] == nm
        if not (on_last or on_first) or not nc and not end2end:
            raise MetadataError(f"{where}: head {head.name} {list(head.shape)} leaves {nm} mask coefficients for "
                                f"{nc} classes, which prototypes {p.name} {list(p.shape)} do not have")
        # both axes fit only for square prototype stacks (e.g. 32x32x32): follow the input's axis order then
        decode["protos_layout"] = "NHWC" if on_last and not (on_first and spec.layout == "NCHW") else "NCHW"
        decode["nm"] = extra = int(nm)
        outputs.append(OutputSpec(p.name, "yolo_protos", p.shape))
    expected = (6 if end2end else 4 + nc) + extra
    if width != expected:
        raise MetadataError(
            f"{where}: head {head.name} {list(head.shape)} does not fit {nc} classes"
            + (f" + {extra} extra values" if extra else "")
            + (" after NMS ([1, max_det, 6 + extra])" if end2end else " ([1, 4 + classes + extra, anchors])")
            + f"; expected {expected} values per detection, the head has {width}")
    info_input = _letterbox_input(spec)
    version = meta.get("version")
    return ModelInfo(
        path=str(mf.path), task="detect", labels=labels, input=info_input, decode=decode, outputs=tuple(outputs),
        quantization=quantization, source=f"ultralytics {version}" if version else "ultralytics",
        labels_source="Ultralytics metadata names" if labels else "", extra={"ultralytics": meta},
    )


# ------------------------------------------------------------------------------------------ classic YOLOv5


def yolov5_anchor_count(width: int, height: int, strides=YOLOV5_STRIDES, anchors_per_cell: int = 3) -> int:
    """Rows of a classic YOLOv5 head for an input of ``width`` x ``height``: 3 anchors per cell per stride."""
    return sum(anchors_per_cell * (-(-height // s)) * (-(-width // s)) for s in strides)


def _classic_yolov5(mf: ModelFile, spec, quantization: str):

    outs = mf.main.output_tensors()
    if len(outs) != 1 or len(outs[0].shape) != 3 or not spec.width:
        return None
    head = outs[0]
    _, rows, cols = head.shape
    if cols < 6 or rows != yolov5_anchor_count(spec.width, spec.height):
        return None
    info_input = _letterbox_input(spec)
    decode = {"kind": "yolov5_anchors", "nc": cols - 5, **YOLOV5_DEFAULTS}
    return ModelInfo(
        path=str(mf.path), task="detect", labels=(), input=info_input, decode=decode,
        outputs=(OutputSpec(head.name, "yolo_head", head.shape),), quantization=quantization,
        source="structure (classic YOLOv5 anchor head)",
    )
