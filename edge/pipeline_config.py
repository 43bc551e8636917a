"""What a pipeline runs: models in order, each optionally gated or run on the boxes of an earlier model.

A TOML file (``edge run --config pipeline.toml``) or repeated ``--model`` options give the same list:

    source = "picamera2://0"
    sinks = ["http://127.0.0.1:8080", "file://out.mp4?segment=60s"]

    [[model]]                      # low-light enhancement, only when the frame is dark
    path = "zero-dce.tflite"
    when = "brightness < 60"       # mean grey level 0..255 of the frame
    [[model]]
    path = "ssd.tflite"
    name = "detect"
    score = 0.4
    [[model]]                      # pose on every person box of the model named "detect"
    path = "movenet.tflite"
    on = "detect:person"
    [[model]]
    path = "deeplab.tflite"
    [[model]]                      # a float model whose file does not say how to scale pixels
    path = "mobilenet_float.tflite"
    input_range = [-1, 1]          # or mean = [127.5], std = [127.5] (edge.input_options)

    [tracker]                      # track the boxes of the first detect model (edge.tracking_stage)
    [[zone]]                       # count tracked objects in a polygon (edge.zones)
    name = "door"
    points = [[100, 50], [300, 50], [300, 400], [100, 400]]
    [[line]]                       # ... or across a directed line
    name = "entry"
    points = [[320, 0], [320, 480]]

Unknown keys are errors that name the key. An ``enhance`` model's output image replaces the frame for the
models after it and for the rendered output.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, EdgeError
from .model_spec import Normalisation
from .input_options import normalisation_from
from .schema import Field, check_mapping, close_match, threads_field
from .task_options import TASK_OPTION_KEYS

_ADAPTER_OPTION_KEYS = ("score", "iou", "max_detections", *TASK_OPTION_KEYS)


def _task_check(value: str) -> str | None:
    from .tasks import _ADAPTERS

    if value not in _ADAPTERS:
        return "one of " + ", ".join(sorted(_ADAPTERS)) + close_match(value, _ADAPTERS)
    return None


def delegate_check(value: str) -> str | None:
    from .delegates import NAMES, resolve

    try:
        resolve(value)
    except EdgeError:
        return f"one of {', '.join(NAMES)}, or a path to a delegate library (.so)" + close_match(value, NAMES)
    return None


def _anchors_check(value: str) -> str | None:
    from .tasks.mediapipe_ssd import KNOWN

    if value not in KNOWN:
        return "one of " + ", ".join(sorted(KNOWN)) + close_match(value, KNOWN)
    return None


def _gate_check(value: str) -> str | None:
    return None if _GATE_RE.match(value) else "a brightness comparison such as 'brightness < 60'"


def _on_check(value: str) -> str | None:
    model, _, label = value.partition(":")
    return None if model.strip() else "'MODEL' or 'MODEL:LABEL', e.g. 'detect:person'"


# The keys of one [[model]] table (and of ``--model PATH,key=value``). Other modules add keys by extending
# this tuple with their own ``Field`` rows; ``model_spec`` checks every entry against it at load time.
MODEL_FIELDS: tuple[Field, ...] = (
    Field("path", str, required=True, min=1, doc="the .tflite file"),
    Field("name", str, min=1, doc="what later models' on = 'NAME:label' refer to"),
    Field("task", str, check=_task_check),
    threads_field(),
    Field("delegate", str, check=delegate_check),
    Field("fallback", str, check=delegate_check),
    Field("when", str, check=_gate_check, expect="a string such as 'brightness < 60'"),
    Field("on", str, check=_on_check, expect="a string 'MODEL' or 'MODEL:LABEL', e.g. 'detect:person'"),
    Field("labels", str, min=1, doc="labels file, one per line"),
    Field("max_boxes", int, min=1, max=1000, doc="crops per frame for on = ..."),
    Field("score", float, min=0.0, max=1.0),
    Field("iou", float, min=0.0, max=1.0),
    Field("max_detections", int, min=1, max=10000),
    Field("keypoint_score", float, min=0.0, max=1.0),
    Field("pose_score", float, min=0.0, max=1.0),
    Field("max_poses", int, min=1, max=1000),
    Field("seg_view", str, choices=("overlay", "side-by-side")),
    Field("enhance_below", float, min=0.0, max=1.0),
    Field("label_offset", int, min=0, max=100000),
    Field("top_k", int, min=1, max=100000),
    Field("anchors", str, check=_anchors_check),
    # input normalisation for files that do not say (edge.input_options checks the values and names them)
    Field("input_range", object, doc="the model's input range for pixels 0..255, e.g. [-1, 1]"),
    Field("mean", object, doc="input = (pixel - mean) / std, one value or one per channel"),
    Field("std", object, doc="see mean; every value > 0"),
)
# An adapter option another module adds to TASK_OPTION_KEYS without a row here is accepted as it is
# (its adapter checks it); give it a row above to have it checked at load.
MODEL_FIELDS += tuple(Field(k, object) for k in _ADAPTER_OPTION_KEYS if k not in {f.name for f in MODEL_FIELDS})
_MODEL_KEYS = {f.name for f in MODEL_FIELDS}

# The top-level keys of a pipeline file. ``model`` must be an array of tables: [[model]], not [model].
TOP_FIELDS: tuple[Field, ...] = (
    Field("source", str, min=1, doc="source URI"),
    Field("sinks", list, items=str, also=(str,), doc="sink URIs"),
    Field("model", list, items=dict, min=1, doc="[[model]] tables (double brackets)"),
    threads_field(),
    Field("queue", int, min=1, max=1000, doc="frames between stages"),
    Field("tracker", dict, doc="[tracker] settings (edge.tracking_stage, docs/tracking.md)"),
    Field("zone", list, items=dict, doc="[[zone]] tables (edge.zones)"),
    Field("line", list, items=dict, doc="[[line]] tables (edge.zones)"),
)
_TOP_KEYS = {f.name for f in TOP_FIELDS}
_GATE_RE = re.compile(r"^\s*brightness\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*$")
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Gate:
    """``brightness < 60``: run the model only when the frame's mean grey level passes the comparison."""

    op: str
    value: float

    @classmethod
    def parse(cls, text: str, where: str) -> "Gate":
        m = _GATE_RE.match(text)
        if not m:
            raise ConfigError(f"{where}: when = {text!r} is not understood; expected e.g. 'brightness < 60'")
        return cls(m.group(1), float(m.group(2)))

    def passes(self, brightness: float) -> bool:
        return _OPS[self.op](brightness, self.value)

    def __str__(self) -> str:
        return f"brightness {self.op} {self.value:g}"


@dataclass(frozen=True)
class ModelSpec:
    path: Path
    name: str
    task: str | None = None  # None: from the model's metadata
    threads: int | None = None
    delegate: str = "cpu"
    fallback: str | None = None  # delegate to use when ``delegate`` cannot be loaded
    when: Gate | None = None
    on_model: str | None = None  # run on crops of this earlier model's boxes ...
    on_label: str | None = None  # ... with this label (None: every box)
    max_boxes: int = 4
    labels: Path | None = None
    options: dict = field(default_factory=dict)  # adapter options: score, iou, enhance_below, top_k, ...
    normalisation: Normalisation | None = None  # the user's input_range / mean + std (None: the model's own)


@dataclass
class PipelineConfig:
    models: list[ModelSpec]
    source: str | None = None
    sinks: list[str] = field(default_factory=list)
    queue: int = 2  # frames between stages; small, so live results stay fresh
    tracker: object | None = None  # edge.tracking_stage.TrackingSetup, from [tracker] or --track
    zones: list = field(default_factory=list)  # edge.zones.Zone, from [[zone]]
    lines: list = field(default_factory=list)  # edge.zones.Line, from [[line]]


def model_spec(entry: dict, index: int, names: set[str], where: str, default_threads: int | None = None) -> ModelSpec:
    here = f"{where}: model {index + 1}"
    if default_threads is not None and "threads" not in entry:
        entry = {**entry, "threads": default_threads}
    entry = check_mapping(entry, MODEL_FIELDS, here)
    path = Path(entry["path"])
    name = str(entry.get("name") or path.stem)
    if name in names:
        raise ConfigError(f"{here}: name {name!r} is used twice; give one of them name = '...'")
    on_model = on_label = None
    if entry.get("on"):
        on_model, _, on_label = str(entry["on"]).partition(":")
        on_model = on_model.strip()
        if on_model not in names:
            raise ConfigError(f"{here}: on = {entry['on']!r} names model {on_model!r}, which is not declared "
                              f"before it (declared: {', '.join(sorted(names)) or 'none'})"
                              + close_match(on_model, names))
        on_label = on_label.strip() or None
    options = {k: entry[k] for k in _ADAPTER_OPTION_KEYS if k in entry}
    norm = normalisation_from(entry.get("input_range"), entry.get("mean"), entry.get("std"), here)
    return ModelSpec(path, name, entry.get("task"), entry.get("threads"), str(entry.get("delegate", "cpu")),
                     entry.get("fallback"), Gate.parse(entry["when"], here) if entry.get("when") else None,
                     on_model, on_label, int(entry.get("max_boxes", 4)),
                     Path(entry["labels"]) if entry.get("labels") else None, options, norm)


def models_from_entries(entries: list[dict], where: str, default_threads: int | None = None) -> list[ModelSpec]:
    specs: list[ModelSpec] = []
    for i, entry in enumerate(entries):
        spec = model_spec(entry, i, {s.name for s in specs}, where, default_threads)
        specs.append(spec)
    if not specs:
        raise ConfigError(f"{where}: no model declared; add [[model]] path = '...' or --model FILE")
    return specs


def parse_model_option(text: str) -> dict:
    """``--model PATH[,key=value...]`` e.g. ``--model pose.tflite,on=detect:person`` -> a config entry."""
    path, *pairs = text.split(",")
    entry: dict = {"path": path}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--model {text!r}: {pair!r} is not key=value")
        entry[key.strip()] = _scalar(value.strip())
    return entry


def _scalar(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def read_pipeline_toml(path: str | Path) -> dict:
    """The TOML data of a pipeline file with its top-level keys checked (TOP_FIELDS); ConfigError naming
    the file for a missing file, bytes that are not UTF-8, bad TOML, ``[model]`` instead of ``[[model]]``."""
    from edge.toml_read import TOMLDecodeError, loads

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such pipeline config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the pipeline config ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}); "
                          f"TOML files must be UTF-8") from None
    try:
        data = loads(text)
    except TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    if isinstance(data.get("model"), dict):
        raise ConfigError(f"{path}: [model] is one table; write each model as [[model]] (double brackets)")
    return check_mapping(data, TOP_FIELDS, str(path))


def load_config(path: str | Path, default_threads: int | None = None) -> PipelineConfig:
    path = Path(path)
    data = read_pipeline_toml(path)
    base = path.parent
    entries = []
    for entry in data.get("model", []):
        entry = dict(entry)
        if isinstance(entry.get("path"), str) and entry["path"] and not Path(entry["path"]).is_absolute():
            entry["path"] = str(base / entry["path"])
        entries.append(entry)
    sinks = data.get("sinks", [])
    if isinstance(sinks, str):
        sinks = [sinks]
    config = PipelineConfig(models_from_entries(entries, str(path), data.get("threads", default_threads)),
                            data.get("source"), list(sinks), data.get("queue", 2))
    if "tracker" in data or "zone" in data or "line" in data:
        from .tracking_stage import TrackingSetup
        from .zones import parse_lines, parse_zones

        if "tracker" in data:
            config.tracker = TrackingSetup.from_table(data["tracker"], f"{path}: [tracker]")
        config.zones = parse_zones(data.get("zone", []), str(path))
        config.lines = parse_lines(data.get("line", []), str(path), {z.name for z in config.zones})
    return config
