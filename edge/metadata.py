"""What a model needs from the runtime: task, labels, input preprocessing, how to decode its outputs.

``model_info(model_file)`` decides it once, when the model is loaded:
1. our ``edgevision`` metadata entry (UTF-8 JSON written by export/, see docs/contracts.md section 3) says
   everything;
2. otherwise the recognition table (``edge.families``) names the model's family from its structure and
   metadata: task, decode dict, output roles, resize; tflite-support ``TFLITE_METADATA`` adds labels (from
   the zip appended to the file), colour space and input NormalizationOptions, which are honoured.
The result carries a ``Plan`` (family, resize, normalisation and why) that ``edge info`` prints.
``--labels FILE``, ``--task`` and ``--input-range`` / ``--mean --std`` override what the model says
(``ModelInfo.with_overrides``), and are printed as such.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import MetadataError
from .families import EDGEVISION_KEY, ZERO_ONE, Family, Hints, Match, recognise, shapes
from .flatbuffer import FlatBufferError, Table
from .model_file import ModelFile
from .model_spec import (
    InputSpec, ModelInfo, Normalisation, OutputSpec, Plan, Resize, check_input_spec, input_from_tensor, quantization_of,
)

__all__ = ["model_info", "read_labels"]

TFLITE_SUPPORT_KEY = "TFLITE_METADATA"

# tflite-support metadata_schema.fbs enum values used below
_AXIS_LABELS, _VALUE_LABELS = 2, 3
_NORMALIZATION_OPTIONS = 1
_COLOR_SPACES = {1: "RGB", 2: "GRAY"}


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
    support = _read_tflite_support(mf) if TFLITE_SUPPORT_KEY in mf.metadata else None
    hints = Hints(tflite_support=support is not None, model_name=support.name if support else "",
                  label_files=support.label_files if support else (),
                  normalisation=bool(support and support.mean_std))
    family, match = recognise(mf, hints)
    if family is not None and family.name == "edgevision":
        info = _with_edgevision_plan(_from_edgevision(mf), family, match)
    else:
        info = _from_family(mf, family, match, support)
    if info.input.width and info.input.height:  # an image input: its normalisation must be usable
        check_input_spec(info.input, f"{mf.path}: input normalisation (from {info.source})")
    return info


# ---------------------------------------------------------------- structure and the recognition table


def _from_family(mf: ModelFile, family: Family | None, match: Match | None, support) -> ModelInfo:
    if match is not None and match.info is not None:
        return _with_own_reader_plan(match.info, family, match)
    sg = mf.main
    spec = input_from_tensor(sg)
    if support is not None:
        spec = replace(spec, color=support.color or spec.color)
    resize = (match.resize if match and match.resize else family.resize if family else
              Resize(why="no family recognised: a plain stretch"))
    spec = replace(spec, resize=resize.mode, interpolation=resize.interpolation, pad_value=int(resize.pad_value))
    norm, note, assumed = _normalisation(spec, family, match, support)
    if norm is not None and spec.channels:
        norm = norm.for_channels(spec.channels)
        spec = replace(spec, mean=norm.mean, std=norm.std)
    labels, labels_source = (match.labels, match.labels_source) if match and match.labels else ((), "")
    if support is not None and support.labels and not labels:
        labels, labels_source = support.labels, support.labels_source
    if family is None:
        task, decode, outputs = None, {}, tuple(OutputSpec(t.name, "output", t.shape) for t in sg.output_tensors())
        plan = Plan("unknown", None, f"no row of the recognition table matches its outputs "
                    f"({shapes(sg.output_tensors())})", "", resize, norm, note, assumed)
    else:
        task = match.task or family.task
        decode = dict(match.decode)
        outputs = tuple(OutputSpec(name, role, tuple(shape)) for name, role, shape in match.outputs)
        plan = Plan(family.name, task, match.why, family.decoder_module, resize, norm, note, assumed)
    return ModelInfo(
        path=str(mf.path), task=task, labels=labels, input=spec, decode=decode, outputs=outputs,
        quantization=quantization_of(sg), source="tflite-support" if support is not None else "structure",
        labels_source=labels_source, extra=support.extra if support is not None else {}, plan=plan,
    )


def _normalisation(spec: InputSpec, family: Family | None, match: Match | None, support):
    """(Normalisation or None for raw quantized pixels, a note, what was assumed)."""
    if match is not None and match.normalisation is not None:
        return match.normalisation, "", ()
    if support is not None and support.mean_std:
        mean, std = support.mean_std
        return Normalisation(mean, std, "tflite-support NormalizationOptions"), "", ()
    if spec.dtype in ("uint8", "int8"):
        if not spec.scale:
            return None, f"raw pixels 0..255 into the {spec.dtype} input (it has no quantization)", ()
        return None, (f"raw pixels 0..255 into the {spec.dtype} input: its quantization (scale {spec.scale:g}, "
                      f"zero point {spec.zero_point}) maps them to the model's range"), ()
    if family is not None and family.float_input is not None:
        return family.float_input, "", ()
    if not spec.width:
        return None, "not an image input", ()
    why = "ASSUMED: no normalisation metadata and no known default for this family; give --input-range"
    return ZERO_ONE.because(why), "", ("normalisation 0..1 assumed (no metadata, no family default); "
                                       "set --input-range LOW,HIGH or --mean/--std",)


def _with_own_reader_plan(info: ModelInfo, family: Family, match: Match) -> ModelInfo:
    """A family whose own reader built the ModelInfo (edge.ultralytics): record its plan."""
    spec = info.input
    resize = Resize(spec.resize, spec.interpolation, spec.pad_value, family.resize.why)
    why = family.float_input.why if family.float_input else f"{family.name} reader"
    if spec.dtype in ("uint8", "int8") and spec.scale:
        how = "truncated, as upstream" if spec.rounding == "truncate" else "rounded to nearest"
        why += f"; then quantized to the {spec.dtype} input ({how})"
    norm = Normalisation(spec.mean, spec.std, why)
    plan = Plan(family.name, info.task, match.why, family.decoder_module, resize, norm)
    return replace(info, plan=plan)


def _with_edgevision_plan(info: ModelInfo, family: Family, match: Match) -> ModelInfo:
    spec = info.input
    resize = Resize(spec.resize, spec.interpolation, spec.pad_value, f"{EDGEVISION_KEY} metadata")
    norm = None
    if spec.width:
        norm = Normalisation(spec.mean, spec.std, f"{EDGEVISION_KEY} metadata")
    kind = info.decode.get("kind")
    plan = Plan(family.name, info.task, match.why + (f", decode.kind {kind!r}" if kind else ""),
                f"edge.tasks.{info.task}", resize, norm)
    return replace(info, plan=plan)


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
    tensor = input_from_tensor(sg)
    try:
        spec = replace(
            tensor,
            width=int(inp.get("width", tensor.width)), height=int(inp.get("height", tensor.height)),
            color=str(inp.get("color", "RGB")), resize=str(inp.get("resize", "stretch")),
            mean=tuple(float(v) for v in inp.get("mean", (0.0,) * tensor.channels)),
            std=tuple(float(v) for v in inp.get("std", (255.0,) * tensor.channels)),
            interpolation=str(inp.get("interpolation", "linear")), pad_value=int(inp.get("pad_value", 114)),
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
    if spec.interpolation not in ("linear", "area"):
        raise MetadataError(f"{where}: input.interpolation {spec.interpolation!r} must be 'linear' or 'area'")
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
        quantization=str(meta.get("quantization", quantization_of(sg))), source="edgevision",
        labels_source=f"{EDGEVISION_KEY} metadata" if meta.get("labels") else "", extra=meta,
    )


# ---------------------------------------------------------------- tflite-support metadata
# Slots (tflite-support metadata_schema.fbs): ModelMetadata 0 name, 3 subgraph_metadata, 6 associated_files;
# SubGraphMetadata 2 input_tensor_metadata, 3 output_tensor_metadata, 5 input_process_units;
# TensorMetadata 0 name, 3 content, 4 process_units, 6 associated_files; Content 0 properties_type,
# 1 properties; ImageProperties 0 color_space; ProcessUnit 0 options_type, 1 options;
# NormalizationOptions 0 mean, 1 std; AssociatedFile 0 name, 2 type, 3 locale.


@dataclass(frozen=True)
class _TfliteSupport:
    """What tflite-support metadata says: model name, colour space, input normalisation, labels."""

    name: str = ""
    color: str = ""
    mean_std: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    label_files: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    labels_source: str = ""
    extra: dict = field(default_factory=dict)


def _read_tflite_support(mf: ModelFile) -> _TfliteSupport:
    where = f"{mf.path}: metadata {TFLITE_SUPPORT_KEY!r}"
    color, mean_std = "", None
    try:
        root = Table.root(mf.metadata[TFLITE_SUPPORT_KEY])
        subgraphs = root.tables(3)
        if not subgraphs:
            return _TfliteSupport(name=root.string(0, "") or "")
        sgm = subgraphs[0]
        inputs, outputs = sgm.tables(2), sgm.tables(3)
        units = list(sgm.tables(5))
        if inputs:
            color = _color_from_tensor_metadata(inputs[0])
            units = list(inputs[0].tables(4)) + units
        for unit in units:
            mean_std = _normalization(unit, where) or mean_std
        label_files = tuple(f for t in outputs for f in _label_files(t))
        extra = {"name": root.string(0, ""), "output_names": [t.string(0, "") for t in outputs]}
    except FlatBufferError as exc:
        raise MetadataError(f"{where} is corrupt ({exc})") from None
    labels, labels_source = (), ""
    if label_files:
        files = mf.associated_files
        label_file = label_files[0]
        if label_file not in files:
            raise MetadataError(f"{where} names label file {label_file!r} but the model's zip holds {sorted(files)}")
        lines = [line.strip() for line in files[label_file].decode("utf-8", "replace").splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        labels, labels_source = tuple(lines), f"{TFLITE_SUPPORT_KEY} {label_file}"
    return _TfliteSupport(extra.get("name") or "", color, mean_std, label_files, labels, labels_source, extra)


def _color_from_tensor_metadata(tm: Table) -> str:
    content = tm.table(3)
    if content is not None and content.scalar(0, "B", 0) == 2:  # ImageProperties
        props = content.table(1)
        if props is not None:
            return _COLOR_SPACES.get(props.scalar(0, "b", 0), "")
    return ""


def _normalization(unit: Table, where: str):
    """(mean, std) of a NormalizationOptions process unit, else None."""
    if unit.scalar(0, "B", 0) != _NORMALIZATION_OPTIONS:
        return None
    opts = unit.table(1)
    if opts is None:
        return None
    mean, std = tuple(opts.scalars(0, "f")), tuple(opts.scalars(1, "f"))
    if not mean or not std or any(s == 0 for s in std):
        raise MetadataError(f"{where}: NormalizationOptions mean {list(mean)} / std {list(std)} are unusable "
                            f"(need values and a non-zero std)")
    if not all(math.isfinite(v) for v in (*mean, *std)):
        raise MetadataError(f"{where}: NormalizationOptions mean {list(mean)} / std {list(std)}: every value must "
                            f"be a finite number")
    return mean, std


def _label_files(tm: Table) -> list[str]:
    files = [f for f in tm.tables(6) if f.scalar(2, "b", 0) in (_AXIS_LABELS, _VALUE_LABELS)]
    # Prefer the file without a locale (the default language), else the first.
    files.sort(key=lambda f: bool(f.string(3)))
    return [f.string(0, "") for f in files]
