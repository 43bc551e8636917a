"""What a model needs from the runtime: task, labels, input normalisation, how to decode its outputs.

``model_info(model_file)`` reads, in order of trust:
1. our ``edgevision`` metadata entry (UTF-8 JSON written by export/, see docs/contracts.md section 3);
2. tflite-support ``TFLITE_METADATA`` (labels from the zip appended to the file, mean/std from the input's
   NormalizationOptions, detection outputs from the model graph);
3. the model's structure alone (a ``TFLite_Detection_PostProcess`` op, or one 3-D raw-head output).
``--labels FILE`` and ``--task`` override what the model says, and are required when it says nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import MetadataError
from .flatbuffer import FlatBufferError, Table
from .model_file import ModelFile, SubGraph

EDGEVISION_KEY = "edgevision"
TFLITE_SUPPORT_KEY = "TFLITE_METADATA"
SSD_POSTPROCESS_OP = "TFLite_Detection_PostProcess"
SSD_ROLES = ("boxes", "classes", "scores", "count")  # the op's output order, fixed by the op itself

# tflite-support metadata_schema.fbs enum values used below
_AXIS_LABELS, _VALUE_LABELS = 2, 3
_NORMALIZATION_OPTIONS = 1
_COLOR_SPACES = {1: "RGB", 2: "GRAY"}


@dataclass(frozen=True)
class InputSpec:
    name: str
    width: int
    height: int
    channels: int
    dtype: str  # the input tensor's dtype: float32, uint8, int8
    color: str = "RGB"  # channel order the model expects: RGB, BGR or GRAY
    resize: str = "stretch"  # "stretch" (plain resize of the whole frame), "letterbox" or "letterbox_mediapipe"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)  # model input = (pixel - mean) / std, pixels 0..255
    std: tuple[float, ...] = (255.0, 255.0, 255.0)
    scale: float = 0.0  # tensor quantization (0.0 = not quantized)
    zero_point: int = 0
    layout: str = "NHWC"  # the input tensor's axis order: NHWC, or NCHW ([1, C, H, W], e.g. litert-torch exports)
    rounding: str = "nearest"  # integer inputs: "nearest", or "truncate" (the float32 value cast, as Ultralytics does)


@dataclass(frozen=True)
class OutputSpec:
    name: str  # the TFLite tensor name
    role: str  # e.g. raw_boxes_scores, boxes, classes, scores, count
    shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    path: str
    task: str | None
    labels: tuple[str, ...]
    input: InputSpec
    decode: dict
    outputs: tuple[OutputSpec, ...]
    quantization: str
    source: str  # "edgevision", "tflite-support" or "structure"
    labels_source: str = ""  # where the labels came from
    extra: dict = field(default_factory=dict)  # the raw metadata, for task adapters that need more

    @property
    def input_size(self) -> tuple[int, int]:
        return self.input.width, self.input.height

    def output(self, role: str) -> OutputSpec:
        for out in self.outputs:
            if out.role == role:
                return out
        raise MetadataError(
            f"{self.path}: no output with role {role!r}; the model's outputs are "
            + ", ".join(f"{o.name} ({o.role})" for o in self.outputs)
        )

    def with_overrides(self, *, labels: tuple[str, ...] | None = None, labels_source: str = "",
                       task: str | None = None) -> "ModelInfo":
        info = self
        if labels is not None:
            info = replace(info, labels=tuple(labels), labels_source=labels_source)
        if task is not None:
            info = replace(info, task=task)
        return info


COLORS = ("RGB", "BGR", "GRAY")


def check_input_spec(spec: InputSpec, where: str) -> None:
    """MetadataError naming the field when the input normalisation cannot work: ``std`` 0 or not finite
    (every pixel would become inf/nan, and nothing is detected), ``mean``/``std`` lengths that are neither 1
    nor the channel count, a colour order we do not know, a size that is not positive."""
    c = spec.channels
    for key in ("mean", "std"):
        values = getattr(spec, key)
        if len(values) not in (1, c):
            raise MetadataError(f"{where}: input.{key} has {len(values)} values {list(values)}; expected 1 or {c} "
                                f"(one per channel of the {c}-channel input)")
        if not all(math.isfinite(v) for v in values):
            raise MetadataError(f"{where}: input.{key} = {list(values)}; expected finite numbers")
    if any(v == 0 for v in spec.std):
        raise MetadataError(f"{where}: input.std = {list(spec.std)}; expected non-zero values (input = (pixel - mean) / std)")
    if spec.color not in COLORS:
        raise MetadataError(f"{where}: input.color = {spec.color!r}; expected one of {', '.join(COLORS)}")
    if spec.width < 0 or spec.height < 0 or spec.width > 16384 or spec.height > 16384:
        raise MetadataError(f"{where}: input size {spec.width}x{spec.height}; expected 1..16384 pixels a side")


def read_labels(path: str | Path) -> tuple[str, ...]:
    """One label per line (line index = class id); blank trailing lines dropped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(f"{path}: cannot read the labels file ({exc})") from None
    labels = [line.strip() for line in text.splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if not labels:
        raise MetadataError(f"{path}: the labels file is empty; expected one label per line")
    return tuple(labels)


def model_info(mf: ModelFile) -> ModelInfo:
    if EDGEVISION_KEY in mf.metadata:
        return _from_edgevision(mf)
    from .ultralytics import recognise_ultralytics  # Ultralytics YOLO exports and the classic YOLOv5 head

    yolo = recognise_ultralytics(mf, _input_from_tensor(mf.main), _quantization_of(mf.main))
    if yolo is not None:
        return yolo
    base = _from_structure(mf)
    if TFLITE_SUPPORT_KEY in mf.metadata:
        return _with_tflite_support(mf, base)
    return base


# ---------------------------------------------------------------- structure


def _input_from_tensor(sg: SubGraph, **kw) -> InputSpec:
    t = sg.input_tensors()[0]
    layout = "NHWC"
    if len(t.shape) == 4 and t.shape[1] in (1, 3) and t.shape[3] not in (1, 3):
        _, c, h, w = t.shape  # channels-first image input [1, C, H, W]
        layout = "NCHW"
    elif len(t.shape) == 4:
        _, h, w, c = t.shape
    else:  # not an image model; width/height 0 make Engine.prepare refuse frames with a clear message
        h, w, c = 0, 0, (t.shape[-1] if t.shape else 0)
    mean_std = {}
    if t.dtype in ("uint8", "int8"):
        # Without metadata assume an integer input takes pixels as they are (its quantization, if any,
        # maps 0..255 to the model's range).
        if t.scales:  # the mean/std that make the quantized tensor equal the raw pixels
            shift = 128 if t.dtype == "int8" else 0
            mean_std = {"mean": (float(t.zero_points[0] + shift),) * c, "std": (1.0 / t.scales[0],) * c}
        else:
            mean_std = {"mean": (0.0,) * c, "std": (1.0,) * c}
    spec = InputSpec(
        name=t.name, width=w, height=h, channels=c, dtype=t.dtype, color="RGB" if c == 3 else "GRAY",
        scale=t.scales[0] if t.scales else 0.0, zero_point=t.zero_points[0] if t.zero_points else 0,
        layout=layout, **mean_std,
    )
    return replace(spec, **kw)


def _quantization_of(sg: SubGraph) -> str:
    dtype = sg.input_tensors()[0].dtype
    return {"uint8": "uint8", "int8": "int8", "int16": "int16x8"}.get(dtype, "float32")


def _from_structure(mf: ModelFile) -> ModelInfo:
    sg = mf.main
    task, decode, outputs = None, {}, ()
    ssd = [op for op in sg.operators if op.opcode.name == SSD_POSTPROCESS_OP]
    if ssd:
        op = ssd[0]
        if len(op.outputs) != 4:
            raise MetadataError(f"{mf.path}: {SSD_POSTPROCESS_OP} has {len(op.outputs)} outputs, expected 4")
        task, decode = "detect", {"kind": "ssd_postprocess"}
        outputs = tuple(OutputSpec(sg.tensors[i].name, role, sg.tensors[i].shape) for i, role in zip(op.outputs, SSD_ROLES))
    else:
        outs = sg.output_tensors()
        raw = [
            t for t in outs
            if len(t.shape) == 3 and t.dtype in ("float32", "int8", "uint8")
            and min(t.shape[1:]) >= 5 and max(t.shape[1:]) >= 4 * min(t.shape[1:])
        ]
        producers = {i: op.opcode.name for op in sg.operators for i in op.outputs}
        if len(outs) == 1 and producers.get(outs[0].index) == "ARG_MAX" and len(outs[0].shape) in (3, 4):
            # A final ArgMax over the class axis of a spatial map: a segmentation model's class map.
            task = "segment"
            decode = {"kind": "argmax"}
            outputs = (OutputSpec(outs[0].name, "segmentation_classes", outs[0].shape),)
        elif (ssd_plan := _mediapipe_ssd(sg)) is not None:
            decode, outputs, labels, labels_source, input_kw = ssd_plan
            return ModelInfo(
                path=str(mf.path), task="detect", labels=labels, input=_input_from_tensor(sg, **input_kw),
                decode=decode, outputs=outputs, quantization=_quantization_of(sg), source="structure",
                labels_source=labels_source,
            )
        elif (posenet_roles := _posenet(sg)) is not None:
            task, decode = "pose", {"kind": "posenet", "family": "posenet"}
            outputs = tuple(OutputSpec(t.name, posenet_roles[t.name], t.shape) for t in outs)
            # tfjs PoseNet (MobileNet) feeds pixels / 127.5 - 1 to its float models
            kw = {"mean": (127.5,) * 3, "std": (127.5,) * 3} if sg.input_tensors()[0].dtype == "float32" else {}
            return ModelInfo(
                path=str(mf.path), task=task, labels=(), input=_input_from_tensor(sg, **kw), decode=decode,
                outputs=outputs, quantization=_quantization_of(sg), source="structure",
            )
        elif (lm_plan := _mediapipe_landmarks(sg)) is not None:
            task, decode = "landmarks", lm_plan
            outputs = tuple(OutputSpec(t.name, "output", t.shape) for t in outs)
            return ModelInfo(
                path=str(mf.path), task=task, labels=(), input=_input_from_tensor(sg, mean=(0.0,) * 3, std=(255.0,) * 3,
                                                                     resize="letterbox_mediapipe"),
                decode=decode, outputs=outputs, quantization=_quantization_of(sg), source="structure",
            )
        elif len(outs) == 1 and raw:
            t = raw[0]
            # A raw YOLO-style head: 4 box values + C class scores per anchor, anchors far outnumber classes.
            layout = "channels_first" if t.shape[1] < t.shape[2] else "anchors_first"
            task = "detect"
            decode = {"kind": "raw_boxes_scores", "layout": layout, "box_format": "cxcywh", "box_units": "auto",
                      "score_activation": "none"}
            outputs = (OutputSpec(t.name, "raw_boxes_scores", t.shape),)
        else:
            outputs = tuple(OutputSpec(t.name, "output", t.shape) for t in outs)
    return ModelInfo(
        path=str(mf.path), task=task, labels=(), input=_input_from_tensor(sg), decode=decode, outputs=outputs,
        quantization=_quantization_of(sg), source="structure",
    )


def _mediapipe_ssd(sg: SubGraph):
    """MediaPipe's anchor detectors (BlazeFace, BlazePalm, BlazePose detector): see edge/tasks/mediapipe_ssd.py."""
    from .tasks import mediapipe_ssd

    t = sg.input_tensors()[0]
    if len(t.shape) != 4 or t.dtype != "float32":
        return None
    outs = sg.output_tensors()
    plan = mediapipe_ssd.recognise((t.shape[2], t.shape[1]), [tuple(o.shape) for o in outs])
    if plan is None:
        return None
    roles = tuple(OutputSpec(o.name, "ssd_scores" if o.shape[-1] == 1 else "ssd_regressors", o.shape) for o in outs)
    if not plan["anchors"]:  # an SSD head of unknown anchors: decoding asks for anchors = NAME
        return plan, roles, (), "", {}
    cfg = mediapipe_ssd.KNOWN[plan["anchors"]]
    mean, std = mediapipe_ssd.input_normalisation(cfg.input_range)
    return (plan, roles, cfg.labels, f"MediaPipe anchor table ({cfg.name})",
            {"resize": "letterbox_mediapipe", "mean": (mean,) * 3, "std": (std,) * 3})


def _posenet(sg: SubGraph):
    """PoseNet's heatmaps + short offsets + mid offsets (or forward/backward displacements): output roles."""
    from .tasks import posenet

    return posenet.recognise([(t.name, tuple(t.shape)) for t in sg.output_tensors()])


def _mediapipe_landmarks(sg: SubGraph):
    """MediaPipe's hand / face-mesh / BlazePose landmark models (edge/tasks/landmarks.py), [0, 1] float input."""
    from .tasks import landmarks

    t = sg.input_tensors()[0]
    if len(t.shape) != 4 or t.dtype != "float32":
        return None
    return landmarks.recognise((t.shape[2], t.shape[1]), [tuple(o.shape) for o in sg.output_tensors()])


# ---------------------------------------------------------------- edgevision JSON


def _from_edgevision(mf: ModelFile) -> ModelInfo:
    where = f"{mf.path}: metadata {EDGEVISION_KEY!r}"
    try:
        meta = json.loads(mf.metadata[EDGEVISION_KEY].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"{where} is not UTF-8 JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != "edgevision-metadata":
        raise MetadataError(f"{where}: field 'format' must be 'edgevision-metadata'")
    for key in ("task", "input", "outputs"):
        if key not in meta:
            raise MetadataError(f"{where}: missing field {key!r}")
    inp = meta["input"]
    sg = mf.main
    tensor = _input_from_tensor(sg)
    try:
        spec = replace(
            tensor,
            width=int(inp.get("width", tensor.width)), height=int(inp.get("height", tensor.height)),
            color=str(inp.get("color", "RGB")), resize=str(inp.get("resize", "stretch")),
            mean=tuple(float(v) for v in inp.get("mean", (0.0,) * tensor.channels)),
            std=tuple(float(v) for v in inp.get("std", (255.0,) * tensor.channels)),
        )
    except (TypeError, ValueError) as exc:
        raise MetadataError(f"{where}: bad field in 'input' ({exc})") from None
    if (spec.width, spec.height) != (tensor.width, tensor.height):
        raise MetadataError(
            f"{where}: input is {spec.width}x{spec.height} but the model's input tensor is {tensor.width}x{tensor.height}"
        )
    if spec.resize not in ("stretch", "letterbox", "letterbox_mediapipe"):
        raise MetadataError(f"{where}: input.resize {spec.resize!r} must be 'stretch', 'letterbox' or "
                            f"'letterbox_mediapipe'")
    check_input_spec(spec, where)
    names = {t.name for t in sg.output_tensors()}
    outputs = []
    for out in meta["outputs"]:
        if not isinstance(out, dict) or "name" not in out or "role" not in out:
            raise MetadataError(f"{where}: every entry of 'outputs' needs 'name' and 'role', got {out!r}")
        if out["name"] not in names:
            raise MetadataError(
                f"{where}: output {out['name']!r} is not an output tensor of the model ({', '.join(sorted(names))})"
            )
        outputs.append(OutputSpec(out["name"], out["role"], tuple(out.get("shape", ()))))
    return ModelInfo(
        path=str(mf.path), task=str(meta["task"]), labels=tuple(str(x) for x in meta.get("labels", ())),
        input=spec, decode=dict(meta.get("decode", {})), outputs=tuple(outputs),
        quantization=str(meta.get("quantization", _quantization_of(sg))), source="edgevision",
        labels_source=f"{EDGEVISION_KEY} metadata" if meta.get("labels") else "", extra=meta,
    )


# ---------------------------------------------------------------- tflite-support metadata
# Slots (tflite-support metadata_schema.fbs): ModelMetadata 0 name, 3 subgraph_metadata, 6 associated_files;
# SubGraphMetadata 2 input_tensor_metadata, 3 output_tensor_metadata, 5 input_process_units;
# TensorMetadata 0 name, 3 content, 4 process_units, 6 associated_files; Content 0 properties_type,
# 1 properties; ImageProperties 0 color_space; ProcessUnit 0 options_type, 1 options;
# NormalizationOptions 0 mean, 1 std; AssociatedFile 0 name, 2 type, 3 locale.


def _with_tflite_support(mf: ModelFile, base: ModelInfo) -> ModelInfo:
    where = f"{mf.path}: metadata {TFLITE_SUPPORT_KEY!r}"
    try:
        root = Table.root(mf.metadata[TFLITE_SUPPORT_KEY])
        subgraphs = root.tables(3)
        if not subgraphs:
            return replace(base, source="tflite-support")
        sgm = subgraphs[0]
        inputs, outputs = sgm.tables(2), sgm.tables(3)
        spec = base.input
        if inputs:
            spec = _input_from_tensor_metadata(inputs[0], spec)
        for unit in sgm.tables(5):
            spec = _apply_normalization(unit, spec)
        label_file = next((f for t in outputs for f in _label_files(t)), None)
        extra = {"name": root.string(0, ""), "output_names": [t.string(0, "") for t in outputs]}
    except FlatBufferError as exc:
        raise MetadataError(f"{where} is corrupt ({exc})") from None
    labels, labels_source = base.labels, base.labels_source
    if label_file:
        files = mf.associated_files
        if label_file not in files:
            raise MetadataError(f"{where} names label file {label_file!r} but the model's zip holds {sorted(files)}")
        labels = tuple(line.strip() for line in files[label_file].decode("utf-8", "replace").splitlines())
        while labels and not labels[-1]:
            labels = labels[:-1]
        labels_source = f"{TFLITE_SUPPORT_KEY} {label_file}"
    return replace(base, input=spec, labels=labels, labels_source=labels_source, source="tflite-support", extra=extra)


def _input_from_tensor_metadata(tm: Table, spec: InputSpec) -> InputSpec:
    content = tm.table(3)
    if content is not None and content.scalar(0, "B", 0) == 2:  # ImageProperties
        props = content.table(1)
        if props is not None:
            spec = replace(spec, color=_COLOR_SPACES.get(props.scalar(0, "b", 0), spec.color))
    for unit in tm.tables(4):
        spec = _apply_normalization(unit, spec)
    return spec


def _apply_normalization(unit: Table, spec: InputSpec) -> InputSpec:
    if unit.scalar(0, "B", 0) != _NORMALIZATION_OPTIONS:
        return spec
    opts = unit.table(1)
    if opts is None:
        return spec
    mean, std = opts.scalars(0, "f"), opts.scalars(1, "f")
    c = spec.channels
    if len(mean) == 1:
        mean = mean * c
    if len(std) == 1:
        std = std * c
    if len(mean) != c or len(std) != c or any(s == 0 for s in std):
        raise MetadataError(f"NormalizationOptions mean {mean} / std {std} do not fit a {c}-channel input")
    if not all(math.isfinite(v) for v in (*mean, *std)):
        raise MetadataError(f"NormalizationOptions mean {mean} / std {std}: every value must be a finite number")
    return replace(spec, mean=tuple(mean), std=tuple(std))


def _label_files(tm: Table) -> list[str]:
    files = [f for f in tm.tables(6) if f.scalar(2, "b", 0) in (_AXIS_LABELS, _VALUE_LABELS)]
    # Prefer the file without a locale (the default language), else the first.
    files.sort(key=lambda f: bool(f.string(3)))
    return [f.string(0, "") for f in files]
