"""Enhancement data: unpaired low-light folders, paired LOL layout (``low/`` + ``high/``), and a synthetic
darkening of any folder of normal images (gamma, gain, shot noise and read noise)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..image_io import list_images, write_image
from ..records import AnnotationError


@dataclass
class EnhanceSplit:
    mode: str  # "unpaired" (low-light only), "paired" (low + high) or "darken" (normal images, darkened here)
    low: list[Path]  # low-light images, or the normal images for "darken"
    high: list[Path] | None = None


@dataclass
class DarkenConfig:
    gamma: tuple[float, float] = (1.2, 2.0)  # x ** gamma (darkens mid-tones)
    gain: tuple[float, float] = (0.08, 0.3)  # exposure scale
    shot: tuple[float, float] = (0.001, 0.01)  # variance per unit signal (photon noise)
    read: tuple[float, float] = (0.002, 0.01)  # read-noise standard deviation


def darken(rgb: np.ndarray, rng: np.random.Generator, cfg: DarkenConfig = DarkenConfig()) -> np.ndarray:
    """A plausible low-light capture of a normal uint8 image: gamma, gain, shot and read noise, 8-bit."""
    x = rgb.astype(np.float32) / 255.0
    y = rng.uniform(*cfg.gain) * np.power(x, rng.uniform(*cfg.gamma))
    shot = np.sqrt(np.maximum(y, 0) * rng.uniform(*cfg.shot)) * rng.standard_normal(y.shape).astype(np.float32)
    y = y + shot + rng.uniform(*cfg.read) * rng.standard_normal(y.shape).astype(np.float32)
    return np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)


def read_unpaired(folder: Path, mode: str = "unpaired") -> EnhanceSplit:
    files = list_images(Path(folder)) if Path(folder).is_dir() else []
    if not files:
        raise AnnotationError(f"{folder}: no images (.jpg, .png, .bmp, ...); expected a folder of "
                              f"{'low-light' if mode == 'unpaired' else 'normal'} images")
    from ..image_io import check_images

    check_images(files, str(folder))
    return EnhanceSplit(mode, files)


def read_lol(folder: Path) -> EnhanceSplit:
    """``folder/low`` and ``folder/high`` with the same file names; a file without its partner is an error."""
    folder = Path(folder)
    low_dir, high_dir = folder / "low", folder / "high"
    for d in (low_dir, high_dir):
        if not d.is_dir():
            raise AnnotationError(f"{folder}: missing {d.name}/; expected the LOL layout {folder}/low/ and "
                                  f"{folder}/high/ with the same file names")
    low = {p.name: p for p in list_images(low_dir)}
    high = {p.name: p for p in list_images(high_dir)}
    for name in sorted(set(low) ^ set(high)):
        have, missing = (low_dir, high_dir) if name in low else (high_dir, low_dir)
        raise AnnotationError(f"{have / name} has no partner {missing / name}; every low/ image needs a high/ "
                              "image of the same name")
    if not low:
        raise AnnotationError(f"{low_dir}: no images")
    names = sorted(low)
    from ..image_io import check_images

    check_images([low[n] for n in names] + [high[n] for n in names], str(folder))
    return EnhanceSplit("paired", [low[n] for n in names], [high[n] for n in names])


def read_split(folder: Path, mode: str) -> EnhanceSplit:
    if mode == "paired" or (mode == "auto" and (Path(folder) / "low").is_dir()):
        return read_lol(folder)
    if mode in ("unpaired", "darken", "auto"):
        return read_unpaired(folder, "unpaired" if mode == "auto" else mode)
    raise AnnotationError(f"enhancement data mode {mode!r}; expected unpaired, paired or darken")


def generate_normal_images(out: Path, train: int = 300, val: int = 40, width: int = 320, height: int = 240,
                           seed: int = 0) -> Path:
    """Normal-exposure images (the detection shapes) under ``out/{train,val}/`` for the darkening path; the
    images of an earlier set there are removed first."""
    import shutil

    from ..synth import make_image

    out = Path(out)
    side = max(width, height)
    for split_index, (split, count) in enumerate((("train", train), ("val", val))):
        shutil.rmtree(out / split, ignore_errors=True)
        for i in range(count):
            rng = np.random.default_rng([seed, 400 + split_index, i])
            img, _, _ = make_image(rng, side, 6)
            write_image(out / split / f"{i:06d}.png", np.ascontiguousarray(img[:height, :width, ::-1]))
    return out


def darkened_pairs(paths, seed: int, cfg: DarkenConfig = DarkenConfig()) -> list[tuple[np.ndarray, np.ndarray]]:
    """(darkened, normal) RGB pairs of the validation images, one generator ``[seed, 9999]`` over them in order:
    the pairs train's validation scores and export scores again through the runtime."""
    from ..image_io import read_rgb

    rng = np.random.default_rng([seed, 9999])
    pairs = []
    for p in paths:
        high = read_rgb(p)
        pairs.append((darken(high, rng, cfg), high))
    return pairs
