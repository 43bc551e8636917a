"""``masks://DIR``: one PNG class map per frame, frame size, pixel value = class index.

8-bit PNGs when every class index fits (< 256), 16-bit otherwise. Files are named after the source image
(``bird.bmp`` -> ``bird.png``) or ``frame_NNNNNN.png`` for video and camera frames; with several
segmentation models in one pipeline chain, each map gets the model's name as a suffix. Only segmentation
results have a class map; any other task is refused on the first frame with the model's task named.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np

from .errors import SinkError
from .sinks import Sink, SinkItem
from .sources import IMAGE_SUFFIXES
from .tasks.segment import Segmentation


class MaskSink(Sink):
    needs_image = False

    def __init__(self, folder: Path):
        self.folder, self.name = folder, f"masks://{folder}"
        self.written = 0
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"{folder}: cannot create the masks folder ({exc.strerror})") from None

    def write(self, item: SinkItem) -> None:
        maps = _segmentations(item.result)
        if not maps:
            raise SinkError(f"{self.name}: writes segmentation class maps, but the model's task is "
                            f"{item.result.task!r}")
        src = Path(item.result.source)
        stem = src.stem if src.suffix.lower() in IMAGE_SUFFIXES else f"frame_{item.result.frame:06d}"
        for name, seg in maps:
            self._write_one(self.folder / (f"{stem}.png" if name is None else f"{stem}_{name}.png"),
                            seg.class_map, item)

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


def _segmentations(result) -> list[tuple[str | None, Segmentation]]:
    """The frame's class maps: every segmentation model of the pipeline's chain (``extras["models"]``),
    named after the model when there are several."""
    found = [(name, r) for name, r in (result.extras.get("models") or {}).items() if isinstance(r, Segmentation)]
    if len(found) == 1:
        return [(None, found[0][1])]
    return found


def open_mask_sink(uri: str, rest: str) -> MaskSink:
    if not rest:
        raise SinkError(f"sink {uri!r}: give a folder, e.g. masks://out/masks")
    return MaskSink(Path(unquote(rest)).expanduser())
