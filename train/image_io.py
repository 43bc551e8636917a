"""Reading images for training: RGB uint8 arrays, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class ImageReadError(ValueError):
    """An image file is missing or cannot be decoded."""


def is_image(path: Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_image(p))


# Formats the tf.data pipeline can decode (tf.io.decode_image: JPEG, PNG, GIF, BMP, WebP; not TIFF).
TF_FORMATS = ("jpeg", "png", "gif", "bmp", "webp")


def image_format(head: bytes) -> str | None:
    """The format an image file's first bytes announce, or None when they are no image format we know."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return None


def image_problem(path: Path, formats: tuple[str, ...] = TF_FORMATS) -> str | None:
    """Why ``path`` cannot be decoded as an image (None when it looks whole), read from its first and last
    bytes only so a dataset of thousands of images is checked in well under a second: not an image format,
    a format the pipeline cannot decode, or a JPEG / PNG cut short (no end marker)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(32)
            fh.seek(max(0, size - 4096))
            tail = fh.read()
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or exc})"
    if size == 0:
        return f"{path}: the image file is empty"
    kind = image_format(head)
    if kind is None:
        return f"{path}: not an image (its first bytes {head[:8]!r} are no JPEG, PNG, GIF, BMP or WebP)"
    if kind not in formats:
        return f"{path}: a {kind.upper()} image, which training cannot decode; expected {', '.join(f.upper() for f in formats)}"
    if kind == "jpeg" and b"\xff\xd9" not in tail:
        return f"{path}: a JPEG cut short (no end-of-image marker)"
    if kind == "png" and b"IEND" not in tail[-64:]:
        return f"{path}: a PNG cut short (no IEND chunk)"
    return None


# Formats OpenCV decodes for the tasks that read images with cv2 (classify, pose, segment, enhance).
CV2_FORMATS = TF_FORMATS + ("tiff",)


def check_images(paths, what: str, formats: tuple[str, ...] = CV2_FORMATS) -> None:
    """Refuse, at read time, a split holding files that cannot be decoded as images (text, empty, cut-short
    JPEG/PNG): one ImageReadError naming the split, how many are bad and the first few, before any training."""
    bad = [why for why in (image_problem(Path(p), formats) for p in paths) if why]
    if bad:
        shown = "; ".join(bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise ImageReadError(f"{what}: {len(bad)} of {len(paths)} image files cannot be decoded: {shown}")


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageReadError(f"{path}: cannot be read as an image (missing, empty or not an image format)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def resize_rgb(img: np.ndarray, width: int, height: int) -> np.ndarray:
    if img.shape[1] == width and img.shape[0] == height:
        return img
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if img.shape[1] > width else cv2.INTER_LINEAR)


def to_model(img: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 0..1, the (pixel - 0) / 255 of run.json's input spec."""
    return img.astype(np.float32) * (1.0 / 255.0)


def write_image(path: Path, rgb_or_gray: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = rgb_or_gray if rgb_or_gray.ndim == 2 else cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), img):
        raise ImageReadError(f"{path}: OpenCV could not write the image")
