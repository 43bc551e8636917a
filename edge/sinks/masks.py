"""``masks://DIR``: one PNG per frame, frame size: a class map (pixel value = class index) for semantic
segmentation, an instance map (pixel value = 1 + index of the detection in the JSON line, 0 = none, later
detections painted over earlier ones, as Ultralytics' own instance PNGs) for detections with masks.

8-bit PNGs when every value fits (< 256), 16-bit otherwise. Files are named after the source image
(``bird.bmp`` -> ``bird.png``) or ``frame_NNNNNN.png`` for video and camera frames (``frame_YYYYmmdd-HHMMSS_
NNNNNN.png`` when an earlier run's frames are in the folder: those are kept); with several
segmentation models in one pipeline chain, each map gets the model's name as a suffix. Only segmentation
results have a class map; any other task is refused on the first frame with the model's task named.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np

from ..errors import SinkError
from ..results import Detections
from ..safe_write import run_stamp
from ..tasks.segment import Segmentation
from ..uri import IMAGE_SUFFIXES
from .base import Sink, SinkCapabilities, SinkItem

log = logging.getLogger(__name__)


def instance_map(dets: Detections, frame_size: tuple[int, int]) -> np.ndarray:
    """(H, W) int32: 1 + index of the detection whose mask covers the pixel (the last one wins), 0 elsewhere."""
    w, h = frame_size
    out = np.zeros((h, w), dtype=np.int32)
    for i, m in enumerate(dets.masks or ()):
        mh, mw = m.mask.shape
        out[m.y0 : m.y0 + mh, m.x0 : m.x0 + mw][m.mask] = i + 1
    return out


class MaskSink(Sink):
    capabilities = SinkCapabilities(needs_image=False)

    def __init__(self, folder: Path):
        self.folder, self.name = folder, f"masks://{folder}"
        self.written = 0
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"{folder}: cannot create the masks folder ({exc.strerror})") from None
        self._prefix = "frame_"
        if next(folder.glob("frame_*.png"), None) is not None:  # an earlier run's maps: kept, not overwritten
            self._prefix = f"frame_{run_stamp()}_"
            log.warning("%s: holds maps of an earlier run (kept): this run's are %sNNNNNN.png", folder, self._prefix)

    def write(self, item: SinkItem) -> None:
        maps = _segmentations(item.result)
        if not maps:
            raise SinkError(f"{self.name}: writes segmentation class maps and instance masks, but the model's "
                            f"task is {item.result.task!r} and its results carry no masks")
        src = Path(item.result.source)
        stem = src.stem if src.suffix.lower() in IMAGE_SUFFIXES else f"{self._prefix}{item.result.frame:06d}"
        for name, seg in maps:
            class_map = seg.class_map if isinstance(seg, Segmentation) else instance_map(
                seg, (item.result.width, item.result.height))
            self._write_one(self.folder / (f"{stem}.png" if name is None else f"{stem}_{name}.png"),
                            class_map, item)

    def _write_one(self, path: Path, class_map: np.ndarray, item: SinkItem) -> None:
        if class_map.shape != (item.result.height, item.result.width):
            raise SinkError(f"{self.name}: class map {class_map.shape} is not the frame's size "
                            f"{item.result.height}x{item.result.width}")
        dtype = np.uint8 if int(class_map.max(initial=0)) < 256 else np.uint16
        try:
            ok = cv2.imwrite(str(path), class_map.astype(dtype))
        except cv2.error as exc:
            raise SinkError(f"{path}: cannot write the mask ({str(exc).strip().splitlines()[-1]})") from None
        if not ok:
            raise SinkError(f"{path}: cannot write the mask (unwritable folder or disk full)")
        self.written += 1


def _segmentations(result) -> list[tuple[str | None, Segmentation | Detections]]:
    """The frame's maps: every segmentation model and every detector with instance masks of the pipeline's
    chain (``FrameResult.models``), named after the model when there are several."""
    found = [(name, r) for name, r in result.models.items()
             if isinstance(r, Segmentation) or (isinstance(r, Detections) and r.masks is not None)]
    if len(found) == 1:
        return [(None, found[0][1])]
    return found


def open_mask_sink(uri: str, rest: str) -> MaskSink:
    if not rest:
        raise SinkError(f"sink {uri!r}: give a folder, e.g. masks://out/masks")
    return MaskSink(Path(unquote(rest)).expanduser())
