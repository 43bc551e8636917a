"""Semantic segmentation adapter: logits or an arg-max map -> a class map at frame resolution.

How the output becomes a frame-sized map (bilinear logits, nearest-neighbour class maps) is documented in
``segment_map``. Options: ``transform`` (set by Engine.run_frame) and ``seg_view`` ("overlay", the
default, or "side-by-side") for rendering. Labels come from the metadata or ``--labels``; a class without
a label is shown as its index. The JSON line lists each class present with its area fraction.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError, MetadataError
from ..preprocess import Transform, decode_transform
from .segment_map import class_fractions, class_map_at_frame, num_output_classes

VIEWS = ("overlay", "side-by-side")
ALPHA = 0.5


@dataclass
class Segmentation:
    class_map: np.ndarray  # (frame_h, frame_w) int32 class index per frame pixel
    fractions: np.ndarray  # (C,) float64, share of the frame's pixels per class
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.class_map = np.asarray(self.class_map, dtype=np.int32)
        if self.class_map.ndim != 2:
            raise ValueError(f"Segmentation: class_map must be (H, W), got {self.class_map.shape}")
        self.fractions = np.asarray(self.fractions, dtype=np.float64).reshape(-1)
        self.labels = tuple(self.labels)

    def label(self, class_id: int) -> str:
        return self.labels[class_id] if 0 <= class_id < len(self.labels) else str(class_id)

    def present(self) -> list[tuple[int, float]]:
        """(class id, fraction) of every class covering part of the frame, largest first."""
        ids = np.nonzero(self.fractions > 0)[0]
        return sorted(((int(i), float(self.fractions[i])) for i in ids), key=lambda t: -t[1])


def palette(n: int) -> np.ndarray:
    """(n, 3) uint8 BGR colours: the PASCAL VOC colour map (bits of the index spread over R, G, B)."""
    colours = np.zeros((max(n, 1), 3), dtype=np.uint8)
    for i in range(len(colours)):
        r = g = b = 0
        c = i
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        colours[i] = (b, g, r)
    return colours


def colourise(class_map: np.ndarray) -> np.ndarray:
    return palette(int(class_map.max()) + 1 if class_map.size else 1)[class_map]


BACKGROUND_NAMES = ("background", "__background__", "bg")


def background_ids(result: Segmentation) -> list[int]:
    """The classes the labels name background (any index: index 0 is not assumed to be one; CamVid's 0 is Sky)."""
    return [i for i, name in enumerate(result.labels) if name.strip().lower() in BACKGROUND_NAMES]


def _draw_legend(image: np.ndarray, result: Segmentation, colours: np.ndarray) -> np.ndarray:
    scale = max(0.4, min(image.shape[:2]) / 700)
    line = int(round(20 * scale / 0.5))
    for row, (cid, frac) in enumerate(result.present()):
        y = 6 + row * line
        if y + line > image.shape[0]:
            break
        cv2.rectangle(image, (6, y), (6 + line - 4, y + line - 4), tuple(int(v) for v in colours[cid]), -1)
        cv2.rectangle(image, (6, y), (6 + line - 4, y + line - 4), (255, 255, 255), 1)
        text = f"{result.label(cid)} {100 * frac:.1f}%"
        org = (10 + line, y + line - 8)
        cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def render_overlay(frame_bgr: np.ndarray, result: Segmentation, alpha: float = ALPHA) -> np.ndarray:
    """Blend class colours over the frame (classes labelled background stay clear), with a legend."""
    if frame_bgr.shape[:2] != result.class_map.shape:
        raise ValueError(f"frame {frame_bgr.shape[:2]} and class map {result.class_map.shape} differ in size")
    colours = palette(int(result.class_map.max()) + 1)
    out = frame_bgr.copy()
    mask = np.ones(result.class_map.shape, dtype=bool)
    background = background_ids(result)
    if background:
        mask &= ~np.isin(result.class_map, background)
    blended = cv2.addWeighted(frame_bgr, 1.0 - alpha, colours[result.class_map], alpha, 0.0)
    out[mask] = blended[mask]
    return _draw_legend(out, result, colours)


def render_side_by_side(frame_bgr: np.ndarray, result: Segmentation) -> np.ndarray:
    """The frame on the left, the colour class map (with its legend) on the right."""
    if frame_bgr.shape[:2] != result.class_map.shape:
        raise ValueError(f"frame {frame_bgr.shape[:2]} and class map {result.class_map.shape} differ in size")
    colours = palette(int(result.class_map.max()) + 1)
    right = _draw_legend(colours[result.class_map].copy(), result, colours)
    return np.concatenate([frame_bgr, right], axis=1)


def _pick_output(outputs: dict[str, np.ndarray], info) -> np.ndarray:
    for role in ("segmentation_logits", "segmentation_classes", "segmentation_probability"):
        if any(o.role == role for o in info.outputs):
            return outputs[info.output(role).name]
    if len(outputs) != 1:
        raise MetadataError(f"{info.path}: a segmentation model without metadata must have one output, "
                            f"this one has {sorted(outputs)}")
    return next(iter(outputs.values()))


def seg_view(options: dict | None) -> str:
    """The drawing the user asked for (``--seg-view``, TOML ``seg_view``), checked by name."""
    view = (options or {}).get("seg_view") or "overlay"
    if view not in VIEWS:
        raise ConfigError(f"--seg-view {view!r}: expected one of {', '.join(VIEWS)}")
    return view


def decode(outputs, info, transform: Transform, options: dict) -> Segmentation:
    """Dequantised outputs -> a class map at frame resolution (pure)."""
    seg_view(options)  # a wrong view is refused at the first frame, not only once something draws
    output = _pick_output(outputs, info)
    probability = info.decode.get("kind") == "probability"
    class_map = class_map_at_frame(output, transform, "probability" if probability else None)
    classes = 2 if probability else num_output_classes(output)
    fractions = class_fractions(class_map, max(classes, len(info.labels)))
    return Segmentation(class_map, fractions, info.labels)


class SegmentAdapter:
    task = "segment"

    def decode(self, outputs, info, frame_size, options) -> Segmentation:
        return decode(outputs, info, decode_transform(options, frame_size, info.input_size), options)

    def to_json(self, result: Segmentation) -> dict:
        classes = {result.label(cid): round(frac, 4) for cid, frac in result.present()}
        return {"segmentation": {"classes": classes}}

    def render(self, frame_bgr: np.ndarray, result: Segmentation, options: dict | None = None) -> np.ndarray:
        if seg_view(options) == "side-by-side":
            return render_side_by_side(frame_bgr, result)
        return render_overlay(frame_bgr, result)


ADAPTER = SegmentAdapter()
