"""What the values of a mask PNG mean: ``--ignore-index N`` and ``--value-map FILE``.

Masks store one value per pixel. Without a value map, value ``v`` is class ``v`` (0..C-1) and the ignore
value (255 unless ``--ignore-index`` says otherwise: CamVid uses 11) marks pixels no loss or metric counts.
A value map turns stored values into classes, e.g. COCO panoptic/stuff category ids (up to 200) into
contiguous classes; it is a JSON or YAML mapping ``{value: class name | class index | "ignore"}``. Values
are read as 8- or 16-bit. Colour-coded masks (CamVid's 32-class release, Cityscapes' colour PNGs) map colours
instead: keys ``"#RRGGBB"`` or ``"R,G,B"``; the mask is then read as RGB. Inside training every ignored pixel is ``IGNORE`` (255), whatever the file used;
a value that is neither a class, the ignore value nor in the map is an error naming the file and the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..records import AnnotationError
from .masks import IGNORE


@dataclass(frozen=True)
class MaskValues:
    ignore_index: int = IGNORE
    value_map: tuple[tuple[int, int], ...] | None = None  # (stored value, class index or IGNORE), sorted
    colour_map: tuple[tuple[int, int], ...] | None = None  # (0xRRGGBB, class index or IGNORE), sorted

    def __post_init__(self) -> None:
        if not 0 <= self.ignore_index <= 65535:
            raise AnnotationError(f"--ignore-index {self.ignore_index}: expected a mask value in 0..65535")

    def info(self) -> dict:
        """The run.json "data" entries that let export read the masks the same way."""
        out = {"ignore_index": self.ignore_index}
        if self.value_map is not None:
            out["value_map"] = {str(v): c for v, c in self.value_map}
        if self.colour_map is not None:
            out["colour_map"] = {f"#{v:06x}": c for v, c in self.colour_map}
        return out

    @classmethod
    def from_pairs(cls, ignore_index: int, pairs) -> "MaskValues":
        """``pairs`` from read_value_map: int keys are values, ``#rrggbb`` keys colours (one kind per map)."""
        values = tuple(sorted((k, c) for k, c in pairs if isinstance(k, int)))
        colours = tuple(sorted((int(k[1:], 16), c) for k, c in pairs if isinstance(k, str)))
        return cls(ignore_index, values or None, colours or None)

    @classmethod
    def from_info(cls, data: dict) -> "MaskValues":
        vm, cm = data.get("value_map"), data.get("colour_map")
        return cls(int(data.get("ignore_index", IGNORE)),
                   tuple(sorted((int(k), int(v)) for k, v in vm.items())) if vm is not None else None,
                   tuple(sorted((int(k[1:], 16), int(v)) for k, v in cm.items())) if cm is not None else None)

    def to_classes(self, raw: np.ndarray, num_classes: int, where: str) -> np.ndarray:
        """(H, W) stored values -> (H, W) uint8 class indices with IGNORE for ignored pixels."""
        raw = np.asarray(raw)
        if raw.ndim == 3:
            return self._colours_to_classes(raw, where)
        if self.value_map is None:
            keep = raw != self.ignore_index
            bad = keep & (raw >= num_classes)
            if bad.any():
                raise AnnotationError(self._unknown(where, raw[bad], num_classes))
            out = np.full(raw.shape, IGNORE, np.uint8)
            out[keep] = raw[keep]
            return out
        lut_size = max(int(raw.max()) + 1 if raw.size else 1, max(v for v, _ in self.value_map) + 1,
                       self.ignore_index + 1)
        lut = np.full(lut_size, -1, np.int32)
        for value, cls in self.value_map:
            lut[value] = cls
        lut[self.ignore_index] = IGNORE
        mapped = lut[raw]
        if (mapped < 0).any():
            missing = sorted(set(np.unique(raw[mapped < 0]).tolist()))
            raise AnnotationError(f"{where}: mask value(s) {missing[:10]} are not in --value-map and are not the "
                                  f"ignore value {self.ignore_index}; map them to a class or to \"ignore\"")
        return mapped.astype(np.uint8)

    def _colours_to_classes(self, rgb: np.ndarray, where: str) -> np.ndarray:
        if self.colour_map is None:
            raise AnnotationError(f"{where}: a colour mask; expected --value-map with colour keys (\"#RRGGBB\")")
        flat = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
        colours, inverse = np.unique(flat.reshape(-1), return_inverse=True)
        table = dict(self.colour_map)
        missing = [c for c in colours.tolist() if c not in table]
        if missing:
            shown = ", ".join(f"#{c:06x}" for c in missing[:10])
            raise AnnotationError(f"{where}: colour(s) {shown} are not in --value-map; map them to a class or to "
                                  "\"ignore\"")
        return np.asarray([table[c] for c in colours.tolist()], np.uint8)[inverse].reshape(flat.shape)

    def _unknown(self, where: str, values: np.ndarray, num_classes: int) -> str:
        found = sorted(set(np.unique(values).tolist()))
        return (f"{where}: mask value(s) {found[:10]} are no class of the {num_classes} (0..{num_classes - 1}) "
                f"and not the ignore value {self.ignore_index}; expected --ignore-index for the void value or a "
                f"--value-map for category ids")


def read_value_map(path, labels: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """A JSON/YAML file ``{stored value or colour: class name | class index | "ignore"}`` -> sorted (key, class)
    pairs; keys are ints (values) or ``#rrggbb`` strings (colours)."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise AnnotationError(f"--value-map {path}: cannot be read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise AnnotationError(f"--value-map {path}: malformed JSON/YAML ({exc})") from exc
    if not isinstance(doc, dict) or not doc:
        raise AnnotationError(f"--value-map {path}: expected a mapping {{stored value: class name, index or "
                              f"\"ignore\"}}, got {type(doc).__name__}")
    pairs = []
    for key, target in doc.items():
        value = _key(key, path)
        if target is None or (isinstance(target, str) and target.lower() == "ignore"):
            cls = IGNORE
        elif isinstance(target, bool):
            raise AnnotationError(f"--value-map {path}: {key}: {target!r}; expected a class name, index or \"ignore\"")
        elif isinstance(target, int):
            if not 0 <= target < len(labels):
                raise AnnotationError(f"--value-map {path}: {key}: class {target} is outside 0..{len(labels) - 1} "
                                      f"({len(labels)} classes)")
            cls = target
        elif isinstance(target, str) and target in labels:
            cls = labels.index(target)
        else:
            raise AnnotationError(f"--value-map {path}: {key}: {target!r} is not one of the classes {list(labels)}, "
                                  "a class index or \"ignore\"")
        pairs.append((value, cls))
    if len({type(k) for k, _ in pairs}) > 1:
        raise AnnotationError(f"--value-map {path}: mixes mask values and colours; expected one kind of key")
    return tuple(sorted(pairs))


def _key(key, path: Path):
    """An int mask value (0..65535), or a colour normalised to ``#rrggbb`` (from "#RRGGBB" or "R,G,B")."""
    if isinstance(key, int) and not isinstance(key, bool):
        value = key
    elif isinstance(key, str) and key.strip().startswith("#") and len(key.strip()) == 7:
        try:
            return f"#{int(key.strip()[1:], 16):06x}"
        except ValueError:
            raise AnnotationError(f"--value-map {path}: key {key!r} is not a colour #RRGGBB") from None
    elif isinstance(key, str) and key.count(",") == 2:
        try:
            rgb = [int(v) for v in key.split(",")]
        except ValueError:
            raise AnnotationError(f"--value-map {path}: key {key!r} is not a colour R,G,B") from None
        if not all(0 <= v <= 255 for v in rgb):
            raise AnnotationError(f"--value-map {path}: colour {key!r} has a channel outside 0..255")
        return "#{:02x}{:02x}{:02x}".format(*rgb)
    else:
        try:
            value = int(key)
        except (TypeError, ValueError):
            raise AnnotationError(f"--value-map {path}: key {key!r} is not a mask value (an integer) or a colour "
                                  "(\"#RRGGBB\" or \"R,G,B\")") from None
    if not 0 <= value <= 65535:
        raise AnnotationError(f"--value-map {path}: value {value} is outside 0..65535")
    return value


def read_class_list(path) -> tuple[str, ...]:
    """``--classes FILE``: one class name per line, class 0 first (blank lines and # comments skipped)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise AnnotationError(f"--classes {path}: cannot be read ({exc.strerror or exc})") from exc
    names = tuple(n for n in (line.split("#", 1)[0].strip() for line in text.splitlines()) if n)
    if len(names) < 2:
        raise AnnotationError(f"--classes {path}: {len(names)} class name(s); expected one per line, at least two")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise AnnotationError(f"--classes {path}: class name(s) {dup} appear more than once")
    return names
