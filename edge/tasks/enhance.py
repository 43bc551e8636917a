"""Low-light enhancement adapter: the enhanced frame at full resolution, behind a brightness gate.

Two output kinds (``decode.kind`` in our metadata; without metadata, one output shaped like the input
image means "image"):

* ``curves`` (our Zero-DCE++-style models): role ``curves``, ``[1, h, w, 3n]`` (or 1 / 3 channels) curve
  maps at reduced resolution, in the model's input colour order; they are upsampled and applied to the
  original frame at full resolution (``enhance_curves.apply_curve_maps``), ``decode.iterations`` times for
  a single map.
* ``image`` (e.g. the zoo Zero-DCE, fixed 400x600): the model outputs the enhanced image in its input's
  colour order and value range (``pixel = value * std + mean``); it is resized bilinearly back to the frame
  size. (Measured on darkened zoo images, this beats transferring a per-pixel gain: +0.7 dB PSNR, since the
  resize also smooths the amplified noise.)

The gate: with option ``enhance_below`` (``--enhance-below 0.25``), a frame whose mean Rec. 601 luminance
(0..1) is at or above the threshold skips the model and passes through unchanged (``applied: false``).
This adapter therefore runs the frame itself (``run_frame``): Engine.run_frame hands over to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError, MetadataError
from .enhance_curves import apply_curve_maps, mean_luminance, to_uint8, to_unit


@dataclass
class Enhanced:
    image: np.ndarray  # (H, W, 3) uint8 BGR, the frame's own size
    mean_in: float  # mean luminance 0..1 of the input frame
    mean_out: float  # ... and of the output
    applied: bool  # False when the brightness gate let the frame through untouched

    def __post_init__(self) -> None:
        self.image = np.asarray(self.image)
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"Enhanced: image must be (H, W, 3) uint8, got {self.image.shape} {self.image.dtype}")


def _output_kind(outputs: dict[str, np.ndarray], info) -> str:
    kind = info.decode.get("kind")
    if kind:
        return str(kind)
    if len(outputs) == 1:
        shape = tuple(np.shape(next(iter(outputs.values()))))
        if shape == (1, info.input.height, info.input.width, 3):
            return "image"
    raise MetadataError(
        f"{info.path}: cannot tell what this enhancement model outputs "
        f"({', '.join(f'{n} {list(np.shape(v))}' for n, v in outputs.items())}); expected one image shaped "
        f"like the input [1, {info.input.height}, {info.input.width}, 3] or edgevision metadata"
    )


def _to_bgr(rgb_or_bgr: np.ndarray, color: str) -> np.ndarray:
    if color == "RGB":
        return rgb_or_bgr[..., ::-1]
    if color == "BGR":
        return rgb_or_bgr
    raise MetadataError(f"an enhancement model must take colour input (RGB or BGR), not {color}")


def _check_gate(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"--enhance-below must be a mean luminance in 0..1, got {value}")
    return value


def decode(outputs, info, transform, options: dict) -> Enhanced:
    """Dequantised outputs + the original frame (``options["frame"]``) -> the enhanced frame (pure)."""
    frame = options.get("frame")
    if frame is None:
        raise ConfigError("enhancement decoding needs the original frame (options['frame']); "
                          "run it through Engine.run_frame or EnhanceAdapter.run_frame")
    kind = _output_kind(outputs, info)
    color = info.input.color
    if kind == "image":
        out = next(iter(outputs.values())) if len(outputs) == 1 else outputs[info.output("image").name]
        out = np.asarray(out, dtype=np.float32)[0]
        pixels = out * np.asarray(info.input.std, np.float32) + np.asarray(info.input.mean, np.float32)
        w, h = frame.shape[1], frame.shape[0]
        resized = cv2.resize(pixels, (w, h), interpolation=cv2.INTER_LINEAR)
        image = np.clip(_to_bgr(resized, color) + 0.5, 0, 255).astype(np.uint8)
    elif kind == "curves":
        curves = np.asarray(outputs[info.output("curves").name], dtype=np.float32)
        if color == "RGB" and curves.shape[-1] % 3 == 0:  # reorder each RGB triple to the frame's BGR
            n = curves.shape[-1] // 3
            curves = curves.reshape(curves.shape[:-1] + (n, 3))[..., ::-1].reshape(curves.shape)
        elif color not in ("RGB", "BGR"):
            raise MetadataError(f"an enhancement model must take colour input (RGB or BGR), not {color}")
        iterations = info.decode.get("iterations")
        image = to_uint8(apply_curve_maps(to_unit(frame), curves, None if iterations is None else int(iterations)))
    else:
        raise MetadataError(f"{info.path}: unknown enhancement decode kind {kind!r}; expected 'image' or 'curves'")
    return Enhanced(np.ascontiguousarray(image), mean_luminance(frame), mean_luminance(image), True)


class EnhanceAdapter:
    task = "enhance"

    def run_frame(self, engine, frame_bgr: np.ndarray, options: dict | None = None):
        """Gate, then prepare -> infer -> decode; returns (Enhanced, {"pre", "infer", "post"} ms)."""
        options = dict(options or {})
        below = _check_gate(options.get("enhance_below"))
        t0 = time.perf_counter()
        mean_in = mean_luminance(frame_bgr)
        if below is not None and mean_in >= below:
            engine.last_invoke_ms = 0.0
            ms = (time.perf_counter() - t0) * 1000
            return Enhanced(frame_bgr, mean_in, mean_in, False), {"pre": ms, "infer": 0.0, "post": 0.0}
        gate_ms = (time.perf_counter() - t0) * 1000
        inference = engine.run(frame_bgr)
        t2 = time.perf_counter()
        result = decode(inference.outputs, engine.info, inference.transform, {**options, "frame": frame_bgr})
        timing = {**inference.timing, "post": (time.perf_counter() - t2) * 1000}
        timing["pre"] += gate_ms
        return result, timing

    def decode(self, outputs, info, frame_size, options) -> Enhanced:
        return decode(outputs, info, options.get("transform"), options)

    def to_json(self, result: Enhanced) -> dict:
        return {"enhance": {"mean_in": round(result.mean_in, 4), "mean_out": round(result.mean_out, 4),
                            "applied": bool(result.applied)}}

    def render(self, frame_bgr: np.ndarray, result: Enhanced, options: dict | None = None) -> np.ndarray:
        """The enhanced frame itself, full resolution, with nothing drawn on it (what file:// sinks save)."""
        return result.image.copy()


ADAPTER = EnhanceAdapter()
