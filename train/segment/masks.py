"""Class masks from annotations: VOC palette PNGs, COCO polygons and RLE (uncompressed and compressed).

COCO RLE counts run down the columns (column-major, Fortran order) and alternate background/foreground,
starting with background. The compressed form is COCO's text encoding: each count is written in 5-bit
groups (low groups first) as characters ``chr(48 + group)``, bit 0x20 marking "more groups follow" and bit
0x10 of the last group being the sign; from the fourth count on (index 3), the stored value is the
difference to the count two places before.
"""

from __future__ import annotations

import cv2
import numpy as np

IGNORE = 255


class MaskError(ValueError):
    """A mask or mask annotation is malformed; the message names where and what was expected."""


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: (n, 3) RGB, entry i is the colour of class i (255 = ignore, cream)."""
    pal = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


def read_class_png(path, allow_16bit: bool = False) -> np.ndarray:
    """(H, W) uint8 class indices from a grey index PNG, or from a colour PNG in the VOC palette
    (``allow_16bit``: grey 16-bit values too, as uint16, for a value map to turn into classes).

    OpenCV expands palette PNGs to colour, so colour masks are mapped back through the VOC colour map;
    a colour outside it is an error naming the file and the colour.
    """
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise MaskError(f"{path}: cannot be read as a mask image")
    if img.ndim == 2:
        if img.dtype == np.uint16 and allow_16bit:
            return img
        if img.dtype != np.uint8:
            raise MaskError(f"{path}: mask must be 8-bit (class index per pixel), got {img.dtype}"
                            + ("" if allow_16bit else "; 16-bit values need a --value-map"))
        return img
    rgb = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)
    if np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2]):
        return np.ascontiguousarray(rgb[..., 0])  # grey stored as colour
    pal = voc_palette().astype(np.int64)
    keys = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    lut = dict(zip(keys.tolist(), range(256)))
    flat = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    colours, inverse = np.unique(flat.reshape(-1), return_inverse=True)
    idx = []
    for c in colours.tolist():
        if c not in lut:
            raise MaskError(f"{path}: colour RGB{((c >> 16) & 255, (c >> 8) & 255, c & 255)} is not in the "
                            "VOC palette; expected an index PNG or VOC palette colours")
        idx.append(lut[c])
    return np.asarray(idx, np.uint8)[inverse].reshape(flat.shape)


def rle_string_to_counts(text: str, where: str = "RLE") -> list[int]:
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(text):
                raise MaskError(f"{where}: compressed RLE string ends inside a count")
            c = ord(text[pos]) - 48
            if not 0 <= c < 64:
                raise MaskError(f"{where}: character {text[pos]!r} is not valid in a compressed RLE string")
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            pos += 1
            shift += 1
            if not more and (c & 0x10):
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def rle_decode(counts, height: int, width: int, where: str = "RLE") -> np.ndarray:
    """(H, W) bool from COCO RLE counts (list of ints, or the compressed string)."""
    if isinstance(counts, (str, bytes)):
        counts = rle_string_to_counts(counts.decode() if isinstance(counts, bytes) else counts, where)
    counts = np.asarray(counts, np.int64)
    if (counts < 0).any():
        raise MaskError(f"{where}: RLE has a negative run length")
    if counts.sum() != height * width:
        raise MaskError(f"{where}: RLE runs add up to {int(counts.sum())} pixels; expected {height}x{width} = "
                        f"{height * width}")
    values = np.zeros(len(counts), bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape(width, height).T  # column-major


def rle_encode(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE counts of a (H, W) bool mask (for writing synthetic data and tests)."""
    flat = np.asarray(mask, bool).T.reshape(-1)
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    return ([0] + runs) if flat.size and flat[0] else runs


def polygons_to_mask(polygons, height: int, width: int, where: str = "segmentation") -> np.ndarray:
    """COCO polygons ``[[x0, y0, x1, y1, ...], ...]`` (pixel coordinates) -> (H, W) bool, filled with OpenCV."""
    mask = np.zeros((height, width), np.uint8)
    pts = []
    for i, poly in enumerate(polygons):
        arr = np.asarray(poly, np.float64)
        if arr.ndim != 1 or arr.size < 6 or arr.size % 2:
            raise MaskError(f"{where}: polygon {i} has {arr.size} numbers; expected an even count of at least 6 "
                            "(x, y pairs)")
        pts.append(np.round(arr.reshape(-1, 2) * 8).astype(np.int32))  # 3 fractional bits
    if pts:
        cv2.fillPoly(mask, pts, 1, lineType=cv2.LINE_8, shift=3)
    return mask.astype(bool)


def annotation_mask(segmentation, height: int, width: int, where: str) -> np.ndarray:
    """A COCO ``segmentation`` field (polygons, uncompressed RLE or compressed RLE) -> (H, W) bool."""
    if isinstance(segmentation, list):
        return polygons_to_mask(segmentation, height, width, where)
    if isinstance(segmentation, dict) and "counts" in segmentation:
        size = segmentation.get("size")
        if size is None or list(size) != [height, width]:
            raise MaskError(f"{where}: RLE size {size} differs from the image's [height, width] = "
                            f"[{height}, {width}]")
        return rle_decode(segmentation["counts"], height, width, where)
    raise MaskError(f"{where}: segmentation must be a list of polygons or an RLE dict with 'counts' and 'size'")
