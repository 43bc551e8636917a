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

Unknown keys are errors that name the key. An ``enhance`` model's output image replaces the frame for the
models after it and for the rendered output.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .task_options import TASK_OPTION_KEYS

_ADAPTER_OPTION_KEYS = ("score", "iou", "max_detections", *TASK_OPTION_KEYS)
_MODEL_KEYS = {"path", "name", "task", "threads", "delegate", "fallback", "when", "on", "labels", "max_boxes",
               *_ADAPTER_OPTION_KEYS}
_TOP_KEYS = {"source", "sinks", "model", "threads", "queue"}
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


@dataclass
class PipelineConfig:
    models: list[ModelSpec]
    source: str | None = None
    sinks: list[str] = field(default_factory=list)
    queue: int = 2  # frames between stages; small, so live results stay fresh


def model_spec(entry: dict, index: int, names: set[str], where: str, default_threads: int | None = None) -> ModelSpec:
    here = f"{where}: model {index + 1}"
    unknown = set(entry) - _MODEL_KEYS
    if unknown:
        raise ConfigError(f"{here}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_MODEL_KEYS))}")
    if "path" not in entry:
        raise ConfigError(f"{here}: 'path' (the .tflite file) is required")
    path = Path(entry["path"])
    name = str(entry.get("name") or path.stem)
    if name in names:
        raise ConfigError(f"{here}: name {name!r} is used twice; give one of them name = '...'")
    on_model = on_label = None
    if entry.get("on"):
        on_model, _, on_label = str(entry["on"]).partition(":")
        if on_model not in names:
            raise ConfigError(f"{here}: on = {entry['on']!r} names model {on_model!r}, which is not declared "
                              f"before it (declared: {', '.join(sorted(names)) or 'none'})")
        on_label = on_label or None
    threads = entry.get("threads", default_threads)
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"{here}: threads must be a positive integer, got {threads!r}")
    options = {k: entry[k] for k in _ADAPTER_OPTION_KEYS if k in entry}
    return ModelSpec(path, name, entry.get("task"), threads, str(entry.get("delegate", "cpu")), entry.get("fallback"),
                     Gate.parse(entry["when"], here) if entry.get("when") else None, on_model, on_label,
                     int(entry.get("max_boxes", 4)), Path(entry["labels"]) if entry.get("labels") else None, options)


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


def load_config(path: str | Path, default_threads: int | None = None) -> PipelineConfig:
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such pipeline config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    base = path.parent
    entries = []
    for entry in data.get("model", []):
        entry = dict(entry)
        if "path" in entry and not Path(entry["path"]).is_absolute():
            entry["path"] = str(base / entry["path"])
        entries.append(entry)
    sinks = data.get("sinks", [])
    if isinstance(sinks, str):
        sinks = [sinks]
    queue = data.get("queue", 2)
    if not isinstance(queue, int) or queue < 1:
        raise ConfigError(f"{path}: queue must be a positive integer, got {queue!r}")
    return PipelineConfig(models_from_entries(entries, str(path), data.get("threads", default_threads)),
                          data.get("source"), list(sinks), queue)
