"""Engine: one TFLite model in one interpreter, with its metadata, (de)quantization and timing.

    engine = Engine("model.tflite", threads=2, delegate="cpu")
    inference = engine.run(frame_bgr)           # Inference(outputs, transform, timing): the one model path
    result = decode(inference.outputs, engine.info, inference.transform, options)   # edge.tasks.<task>
    result, timing = engine.run_frame(frame_bgr, adapter, {"score": 0.3})            # both in one call

``engine.info.plan`` (edge.model_spec.Plan) says how frames are prepared; it is fixed when the model loads.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import delegates
from .errors import ConfigError, DelegateError, ModelError
from .metadata import model_info
from .model_spec import ModelInfo
from .model_file import parse_model, read_model_file
from .preprocess import Transform, is_identity_quantization, quantize, resize_frame, to_color, to_input_tensor
from .runtime import load_runtime
from .schema import check_value, threads_field

EDGETPU_OP = "edgetpu-custom-op"
POSENET_DECODER_OP = "PosenetDecoderOp"  # google-coral/edgetpu src/cpp/posenet


@dataclass
class Inference:
    """One run of the model: dequantised outputs, the frame -> input transform, and milliseconds taken.

    For a rotated region (``Engine.run(frame, region=rect)``, MediaPipe's landmark crops) ``transform`` is
    None and ``region`` maps points back (``edge.rotated_rect.project``)."""

    outputs: dict[str, np.ndarray]
    transform: Transform | None
    timing: dict[str, float] = field(default_factory=dict)  # "pre" and "infer" ms
    frame_size: tuple[int, int] = (0, 0)  # (width, height) of the frame given to run
    region: object = None  # the edge.rotated_rect.RotatedRect the input was cut from, if any


class Engine:
    def __init__(self, path: str | Path, threads: int | None = None, delegate: str = "cpu",
                 fallback: str | None = None, info: ModelInfo | None = None, content: bytes | None = None):
        """``content``: the model's bytes, when they are not (yet) in a file; ``path`` then only names it."""
        self.path = Path(path)
        check_value(threads, threads_field(), str(path))
        self._content = content
        self.model_file = read_model_file(self.path) if content is None else parse_model(content, self.path)
        choice = delegates.resolve(delegate)
        fallback_choice = delegates.resolve(fallback) if fallback else None
        self._check_custom_ops(choice)
        rt = load_runtime()
        self.runtime = rt.name
        self.runtime_version = rt.version
        self.threads = threads
        self.delegate_note = ""
        try:
            self._interp = self._make_interpreter(rt, choice, threads)
            self.delegate = str(choice)
        except DelegateError as exc:
            if fallback_choice is None:
                raise
            self._interp = self._make_interpreter(rt, fallback_choice, threads)
            self.delegate = str(fallback_choice)
            self.delegate_note = f"fell back to {fallback_choice} because {exc}"
            print(f"edge: warning: {self.delegate_note}", file=sys.stderr)
        self._allocate()
        self.info = info or model_info(self.model_file)
        inputs = self._interp.get_input_details()
        if len(inputs) != 1:
            raise ModelError(f"{self.path}: expected one input tensor, the model has {len(inputs)}")
        self._input = inputs[0]
        self._outputs = self._interp.get_output_details()
        self._out_quant = {d["name"]: _quant(d) for d in self._outputs}
        self.last_invoke_ms = 0.0
        self._settle_box_units()

    def _settle_box_units(self) -> None:
        """A raw head recognised from its structure alone (``box_units: auto``) does not say whether its boxes
        are 0..1 or input pixels. Decide it here, once, from one inference on a mid-grey frame: the anchor
        centres of such a head span the whole input whatever the image, so pixel boxes exceed 1.5 somewhere
        and normalised ones never do. Every frame is then decoded with the same units."""
        decode = self.info.decode
        if decode.get("kind") != "raw_boxes_scores" or decode.get("box_units") != "auto":
            return
        from .tasks.detect import box_units_of

        grey = np.full((self.info.input.height, self.info.input.width, 3), 114, np.uint8)
        raw = self.run(grey).outputs[self.info.output("raw_boxes_scores").name]
        units, peak = box_units_of(raw, decode.get("layout", "anchors_first"))
        self.info = replace(self.info, decode={
            **decode, "box_units": units,
            "box_units_why": f"decided when the model loaded: box values up to {peak:.3g} on a grey frame"})

    @property
    def fast_input(self) -> bool:
        """True when the raw pixels are already the quantized input tensor (no arithmetic per frame)."""
        spec = self.info.input
        return bool(spec.scale) and is_identity_quantization(
            spec.mean, spec.std, spec.scale, spec.zero_point + (128 if spec.dtype == "int8" else 0))

    # ------------------------------------------------------------------ construction helpers

    def _check_custom_ops(self, choice: delegates.DelegateChoice) -> None:
        customs = self.model_file.custom_ops()
        if POSENET_DECODER_OP in customs:
            raise ModelError(
                f"{self.path}: the model ends in Coral's PoseNet decoder (custom op {POSENET_DECODER_OP!r}), which "
                f"only Coral's runtime library provides; use the same PoseNet without the decoder (outputs heatmaps, "
                f"short offsets and mid offsets), which edge decodes itself"
            )
        if EDGETPU_OP in customs and choice.name != "edgetpu":
            raise ModelError(
                f"{self.path}: compiled for the Edge TPU (custom op {EDGETPU_OP!r}); it needs an Edge TPU and "
                f"the edgetpu delegate (--delegate edgetpu), or use the model from before edgetpu_compiler"
            )

    def _make_interpreter(self, rt, choice: delegates.DelegateChoice, threads: int | None):
        kwargs: dict = {"model_path": str(self.path)} if self._content is None else {"model_content": self._content}
        if threads is not None:
            kwargs["num_threads"] = threads
        if choice.library:
            kwargs["experimental_delegates"] = [delegates.load_external(rt, choice)]
        resolver = rt.op_resolver("BUILTIN_WITHOUT_DEFAULT_DELEGATES" if choice.name == "builtin" else "BUILTIN")
        if resolver is not None:
            kwargs["experimental_op_resolver_type"] = resolver
        try:
            return rt.Interpreter(**kwargs)
        except ValueError as exc:
            raise ModelError(f"{self.path}: {rt.name} cannot load the model ({_first_line(exc)})") from None
        except RuntimeError as exc:
            raise self._runtime_error(exc, rt.name) from None

    def _allocate(self) -> None:
        try:
            self._interp.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise self._runtime_error(exc, self.runtime) from None

    def _runtime_error(self, exc: Exception, runtime: str) -> ModelError:
        text = str(exc)
        m = re.search(r"unresolved custom op: ([^\s.]+(?:\.[^\s.]+)*)", text)
        if m:
            return ModelError(
                f"{self.path}: the model uses custom op {m.group(1)!r}, which {runtime} does not provide; "
                f"register it in the runtime or re-export the model with builtin ops only"
            )
        m = re.search(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'", text)
        if m:
            return ModelError(
                f"{self.path}: {runtime} {load_runtime().version} has no {m.group(1)} version {m.group(2)}; "
                f"upgrade the runtime or convert with an older TensorFlow"
            )
        return ModelError(f"{self.path}: {runtime} cannot prepare the model ({_first_line(exc)})")

    # ------------------------------------------------------------------ running

    @property
    def input_size(self) -> tuple[int, int]:
        return self.info.input.width, self.info.input.height

    @property
    def output_names(self) -> list[str]:
        return [d["name"] for d in self._outputs]

    def prepare(self, frame_bgr: np.ndarray, region=None) -> tuple[np.ndarray, Transform | None]:
        """Frame -> (input tensor, frame -> input transform), as the model's plan says (``info.input``).
        ``region``: a rotated rectangle (edge.rotated_rect.RotatedRect) to cut out instead of resizing the
        whole frame (bilinear, zero border, as MediaPipe's ImageToTensor); the transform is then None."""
        spec = self.info.input
        if not spec.width or not spec.height:
            raise ModelError(f"{self.path}: the model input {spec.name!r} is not an image [1, H, W, C]")
        if region is not None:
            from .rotated_rect import crop

            img, transform = to_color(crop(frame_bgr, region, (spec.width, spec.height), 0), spec.color), None
        else:
            img, transform = resize_frame(frame_bgr, (spec.width, spec.height), spec.resize, spec.color,
                                          spec.interpolation, spec.pad_value)
        tensor = to_input_tensor(img, spec.dtype, spec.mean, spec.std, spec.scale, spec.zero_point, spec.rounding)
        if spec.layout == "NCHW":
            tensor = np.ascontiguousarray(tensor.transpose(0, 3, 1, 2))
        return tensor, transform

    def quantize_input(self, values: np.ndarray) -> np.ndarray:
        """Model-space input values (already normalised, e.g. export's parity samples) -> the input tensor,
        quantized as the model's input tensor says."""
        scale, zero_point = self._input["quantization"]
        return quantize(np.asarray(values, np.float32), np.dtype(self._input["dtype"]).name, scale, zero_point)

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        want = tuple(self._input["shape"])
        if tuple(tensor.shape) != want or tensor.dtype != self._input["dtype"]:
            raise ConfigError(
                f"input tensor {tensor.dtype}{list(tensor.shape)} does not match the model's "
                f"{np.dtype(self._input['dtype']).name}{list(want)}"
            )
        self._interp.set_tensor(self._input["index"], tensor)
        t0 = time.perf_counter()
        try:
            self._interp.invoke()
        except RuntimeError as exc:
            raise self._runtime_error(exc, self.runtime) from None
        self.last_invoke_ms = (time.perf_counter() - t0) * 1000.0
        out = {}
        for d in self._outputs:
            value = self._interp.get_tensor(d["index"])
            scale, zp, axis = self._out_quant[d["name"]]
            if scale is not None:
                shape = [1] * value.ndim
                if scale.size > 1:
                    shape[axis] = scale.size
                value = (value.astype(np.float32) - zp.reshape(shape)) * scale.reshape(shape)
            out[d["name"]] = value.astype(np.float32, copy=False)
        return out

    def run(self, frame_bgr: np.ndarray, region=None) -> Inference:
        """Frame -> Inference(outputs, transform, timing): prepare (resize or cut ``region``, colour,
        normalise, quantize) and invoke. Every task runs its model through here."""
        t0 = time.perf_counter()
        tensor, transform = self.prepare(frame_bgr, region)
        t1 = time.perf_counter()
        outputs = self.infer(tensor)
        t2 = time.perf_counter()
        h, w = frame_bgr.shape[:2]
        return Inference(outputs, transform, {"pre": (t1 - t0) * 1000, "infer": (t2 - t1) * 1000}, (w, h), region)

    def run_frame(self, frame_bgr: np.ndarray, adapter, options: dict | None = None):
        """Frame -> (task result in frame pixels, {"pre", "infer", "post"} milliseconds)."""
        if hasattr(adapter, "run_frame"):  # adapters that need the frame itself or may skip the model (enhance)
            return adapter.run_frame(self, frame_bgr, options)
        inference = self.run(frame_bgr)
        t2 = time.perf_counter()
        result = adapter.decode(inference.outputs, self.info, inference.frame_size,
                                {**(options or {}), "transform": inference.transform})
        return result, {**inference.timing, "post": (time.perf_counter() - t2) * 1000}

    def describe(self) -> str:
        return f"{self.path.name} on {self.runtime} {self.runtime_version}, delegate {self.delegate}" + (
            f", {self.threads} threads" if self.threads else "")


def _quant(detail: dict):
    qp = detail.get("quantization_parameters") or {}
    scales = np.asarray(qp.get("scales", []), dtype=np.float32)
    if np.dtype(detail["dtype"]).kind == "f" or scales.size == 0:
        return None, None, 0
    zps = np.asarray(qp.get("zero_points", [0] * scales.size), dtype=np.float32)
    return scales, zps, int(qp.get("quantized_dimension", 0))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
