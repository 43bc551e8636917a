"""What the runtime knows about a model once it is loaded: ``ModelInfo`` (task, labels, input, outputs, decode)
and its preprocessing ``Plan`` (family, ``Resize``, ``Normalisation`` and why), plus the readers that take the
input spec and quantization from the input tensor alone.

These are the types the readers share: ``edge.families`` (the recognition table), ``edge.ultralytics`` (a
family with its own metadata reader) and ``edge.metadata`` (``model_info``, which runs the table) all build
them; this module imports none of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .errors import ConfigError, MetadataError
from .model_file import SubGraph

RESIZE_MODES = ("stretch", "letterbox", "letterbox_mediapipe")
INTERPOLATIONS = ("linear", "area")


@dataclass(frozen=True)
class Resize:
    """How a frame is brought to the input size.

    ``mode``: "stretch" (the whole frame to W x H), "letterbox" (keep the aspect ratio, pad centred with
    ``pad_value``) or "letterbox_mediapipe" (MediaPipe's ImageToTensor: sub-pixel, zero border). ``interpolation``: "linear" (cv2.INTER_LINEAR) or "area" (cv2.INTER_AREA when the
    frame shrinks: an anti-aliased box-filter downscale; linear when it grows).
    """

    mode: str = "stretch"
    interpolation: str = "linear"
    pad_value: int = 114
    why: str = ""

    def __post_init__(self) -> None:
        if self.mode not in RESIZE_MODES:
            raise ConfigError(f"resize mode {self.mode!r}: expected one of {', '.join(RESIZE_MODES)}")
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(f"interpolation {self.interpolation!r}: expected one of {', '.join(INTERPOLATIONS)}")
        if not 0 <= int(self.pad_value) <= 255:
            raise ConfigError(f"letterbox pad value {self.pad_value} must lie in 0..255")

    def because(self, why: str) -> "Resize":
        return replace(self, why=why)

    def describe(self) -> str:
        text = self.mode + (f" (pad {self.pad_value})" if self.mode == "letterbox" else "")
        text += ", anti-aliased area downscale" if self.interpolation == "area" else ", bilinear"
        return text


@dataclass(frozen=True)
class Normalisation:
    """Model input = (pixel - mean) / std for pixels 0..255, per channel; ``why`` says where it came from."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    why: str = ""

    def __post_init__(self) -> None:
        for name, values in (("mean", self.mean), ("std", self.std)):
            if not values or any(not math.isfinite(v) for v in values):
                raise ConfigError(f"input {name} {list(values)} must be finite numbers")
        if any(s <= 0 for s in self.std):
            raise ConfigError(f"input std {list(self.std)} must be greater than 0")

    @classmethod
    def from_range(cls, low: float, high: float, channels: int = 3, why: str = "") -> "Normalisation":
        """The mean/std that map pixel 0 to ``low`` and 255 to ``high``."""
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ConfigError(f"input range {low},{high} must be two finite numbers")
        if not low < high:
            raise ConfigError(f"input range {low:g},{high:g}: the low end must be below the high end")
        std = 255.0 / (high - low)
        return cls((-low * std + 0.0,) * channels, (std,) * channels, why)

    def because(self, why: str) -> "Normalisation":
        return replace(self, why=why)

    def for_channels(self, channels: int) -> "Normalisation":
        """The same values repeated to ``channels`` (a single mean/std applies to every channel)."""
        mean = self.mean * channels if len(self.mean) == 1 else self.mean
        std = self.std * channels if len(self.std) == 1 else self.std
        if len(mean) != channels or len(std) != channels:
            raise ConfigError(f"input mean {list(self.mean)} / std {list(self.std)} do not fit a {channels}-channel "
                              f"input; give 1 or {channels} values")
        return replace(self, mean=tuple(mean), std=tuple(std))

    def range(self) -> tuple[float, float]:
        """(value of pixel 0, value of pixel 255) of the first channel."""
        return -self.mean[0] / self.std[0] + 0.0, (255.0 - self.mean[0]) / self.std[0] + 0.0

    def describe(self) -> str:
        lo, hi = self.range()
        same = len(set(self.mean)) == 1 and len(set(self.std)) == 1
        ms = f"mean {self.mean[0]:g} std {self.std[0]:g}" if same else f"mean {list(self.mean)} std {list(self.std)}"
        return f"{ms} (pixels 0..255 -> {lo:g}..{hi:g})" if same else ms


@dataclass(frozen=True)
class Plan:
    """What the runtime will do with this model, decided once at load; ``edge info`` prints it."""

    family: str
    task: str | None
    recognised_by: str  # why this family (what matched), or why none did
    decoder: str
    resize: Resize
    normalisation: Normalisation | None  # None: a quantized input fed raw pixels (see ``input_note``)
    input_note: str = ""
    assumed: tuple[str, ...] = ()  # what was assumed without evidence (printed as warnings)

    def lines(self, labels_count: int, labels_source: str) -> dict[str, str]:
        norm = self.normalisation.describe() + f": {self.normalisation.why}" if self.normalisation else self.input_note
        return {
            "family": f"{self.family}: {self.recognised_by}",
            "task": str(self.task),
            "decoder": self.decoder or "none",
            "resize": self.resize.describe() + (f": {self.resize.why}" if self.resize.why else ""),
            "normalisation": norm,
            "labels": f"{labels_count} from {labels_source}" if labels_count else (
                "none in the file: edge run needs --labels FILE for a detector" if self.task == "detect"
                else "none (class ids are printed)"),
        }


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
    interpolation: str = "linear"  # "linear" or "area" (anti-aliased downscale), see Resize above
    pad_value: int = 114  # letterbox fill
    layout: str = "NHWC"  # "NHWC" or "NCHW" (channels first: the tensor is transposed after preprocessing)
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
    plan: Plan | None = None  # family and preprocessing, decided at load (edge.families)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.input.width, self.input.height

    @property
    def family(self) -> str:
        return self.plan.family if self.plan else "unknown"

    def output(self, role: str) -> OutputSpec:
        for out in self.outputs:
            if out.role == role:
                return out
        raise MetadataError(
            f"{self.path}: no output with role {role!r}; the model's outputs are "
            + ", ".join(f"{o.name} ({o.role})" for o in self.outputs)
        )

    def with_overrides(self, *, labels: tuple[str, ...] | None = None, labels_source: str = "",
                       task: str | None = None, normalisation: Normalisation | None = None) -> "ModelInfo":
        """The user's --labels / --task / --input-range (or --mean --std) over what the model says."""
        info = self
        if labels is not None:
            info = replace(info, labels=tuple(labels), labels_source=labels_source)
        if task is not None and task != info.task and info.decode.get("kind") in ("ultralytics", "yolov5_anchors"):
            what = f"Ultralytics {info.decode.get('head')}" if info.decode["kind"] == "ultralytics" else "YOLOv5"
            raise ConfigError(f"{info.path}: this {what} export runs as task {info.task!r} (its detections carry "
                              f"the keypoints or instance masks); leave out --task {task}")
        if task is not None:
            info = replace(info, task=task)
            if info.plan is not None and info.plan.task != task:
                info = replace(info, plan=replace(info.plan, task=task, recognised_by=info.plan.recognised_by
                                                  + f"; task {task} given by the user"))
        if normalisation is not None:
            norm = normalisation.for_channels(info.input.channels)
            was = info.plan.normalisation.describe() if info.plan and info.plan.normalisation else "raw pixels"
            norm = norm.because((norm.why or "given by the user") + f", overriding {was}")
            info = replace(info, input=replace(info.input, mean=norm.mean, std=norm.std))
            if info.plan is not None:
                assumed = tuple(a for a in info.plan.assumed if not a.startswith("normalisation"))
                info = replace(info, plan=replace(info.plan, normalisation=norm, assumed=assumed))
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


def input_from_tensor(sg: SubGraph, **kw) -> InputSpec:
    t = sg.input_tensors()[0]
    layout = "NHWC"
    if len(t.shape) == 4 and t.shape[1] in (1, 3) and t.shape[3] not in (1, 3):
        _, c, h, w = t.shape  # channels first, e.g. [1, 3, 640, 640] (litert-torch exports)
        layout = "NCHW"
    elif len(t.shape) == 4:
        _, h, w, c = t.shape
    else:  # not an image model; width/height 0 make Engine.prepare refuse frames with a clear message
        h, w, c = 0, 0, (t.shape[-1] if t.shape else 0)
    mean_std = {}
    if t.dtype in ("uint8", "int8"):
        # An integer input takes pixels as they are (its quantization, if any, maps 0..255 to the model's range).
        if t.scales and not (math.isfinite(t.scales[0]) and t.scales[0] > 0):
            raise MetadataError(f"input tensor {t.name!r}: quantization scale {t.scales[0]}; expected a positive "
                                f"finite number (the file is damaged or was written by a broken converter)")
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


def quantization_of(sg: SubGraph) -> str:
    dtype = sg.input_tensors()[0].dtype
    return {"uint8": "uint8", "int8": "int8", "int16": "int16x8"}.get(dtype, "float32")
