"""COCO-style run-length encoding of binary masks (the ``mask`` of a detection in the JSON lines). Pure.

The mask is read in column-major order (down the first column, then the next), as COCO and pycocotools do;
runs alternate 0s and 1s and start with a run of 0s (possibly empty). ``counts`` is the compressed COCO
string (pycocotools' ``rleToString``): each count, minus the count two before it from the fourth on, in
5-bit groups, 6 bits per character offset by 48 (``0``), a set 0x20 bit meaning "more groups follow".
``{"size": [height, width], "counts": "..."}`` decodes with ``pycocotools.mask.decode`` as well as here.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError


def run_lengths(mask: np.ndarray) -> list[int]:
    """Column-major run lengths of a 2-D binary mask, starting with the (possibly 0) run of zeros."""
    flat = np.asarray(mask, dtype=bool).reshape(-1, order="F") if np.ndim(mask) == 2 else None
    if flat is None:
        raise ConfigError(f"a mask must be 2-D (height, width), got shape {np.shape(mask)}")
    if not flat.size:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(edges).tolist()
    return [0, *counts] if flat[0] else counts


def box_mask_run_lengths(mask: np.ndarray, x0: int, y0: int, frame_size: tuple[int, int]) -> list[int]:
    """``run_lengths`` of the frame-sized mask that is ``mask`` at (x0, y0) and False elsewhere, without
    building the frame: only the box's columns are read (grown to the frame's height)."""
    fw, fh = frame_size
    h, w = np.shape(mask)
    if not w or not h:
        return [fw * fh]
    cols = np.zeros((fh, w), dtype=bool)
    cols[y0 : y0 + h] = mask
    counts = run_lengths(cols)
    counts[0] += x0 * fh  # the all-False columns left of the box
    if len(counts) % 2:  # ends with a run of zeros: the columns right of the box extend it
        counts[-1] += (fw - x0 - w) * fh
    else:
        counts.append((fw - x0 - w) * fh)
    return counts if counts[-1] else counts[:-1]


def counts_to_string(counts: list[int]) -> str:
    out = []
    for i, x in enumerate(counts):
        x = int(x) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            out.append(chr(48 + (c | 0x20 if more else c)))
    return "".join(out)


def string_to_counts(text: str) -> list[int]:
    counts: list[int] = []
    p = 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            if p >= len(text):
                raise ConfigError(f"RLE string {text[:20]!r}... ends inside a count")
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def encode(mask: np.ndarray) -> dict:
    """``{"size": [h, w], "counts": str}`` of a binary mask."""
    h, w = np.shape(mask)[:2]
    return {"size": [int(h), int(w)], "counts": counts_to_string(run_lengths(mask))}


def encode_box_mask(mask: np.ndarray, x0: int, y0: int, frame_size: tuple[int, int]) -> dict:
    """``encode`` of the frame-sized mask holding ``mask`` at (x0, y0) (an ``InstanceMask``'s parts)."""
    fw, fh = frame_size
    return {"size": [int(fh), int(fw)], "counts": counts_to_string(box_mask_run_lengths(mask, x0, y0, frame_size))}


def decode(rle: dict) -> np.ndarray:
    """The (h, w) bool mask of an ``encode`` result (string or list counts)."""
    try:
        h, w = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"an RLE mask needs 'size' [h, w] and 'counts', got {rle!r:.80}") from None
    if isinstance(counts, str):
        counts = string_to_counts(counts)
    if sum(counts) != h * w:
        raise ConfigError(f"RLE counts cover {sum(counts)} pixels, the size {h}x{w} has {h * w}")
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape((h, w), order="F")
