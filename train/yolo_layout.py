"""Where a YOLO dataset's images and label files are: the Ultralytics ``data.yaml`` layout, or our plain one.

Ultralytics (``--data ROOT`` holding ``data.yaml``, or ``--data file.yaml``)::

    path: ../coco128          # dataset root, relative to the YAML's folder, else to the working folder
    train: images/train2017   # a folder of images (searched recursively), a .txt list of image paths
    val: images/val2017       #   (relative to the list's folder), or a list of either
    names: [person, bicycle]  # or {0: person, 1: bicycle}; nc: optional, checked against names
    kpt_shape: [17, 3]        # pose datasets only

Each image's label file is found the way Ultralytics finds it: the last ``/images/`` folder in the image's
path becomes ``/labels/`` and the suffix ``.txt`` (``images/train2017/a.jpg`` -> ``labels/train2017/a.txt``).

Plain: ``ROOT/images/{train,val}/`` with ``ROOT/labels/{train,val}/``, or flat ``ROOT/images/`` and
``ROOT/labels/`` (every 10th image sorted by name is val), class names in ``data.yaml`` (``names:``) or
``classes.txt``. When neither fits, the error shows both trees and what the folder holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .image_io import is_image
from .records import AnnotationError

VAL_EVERY = 10
EXPECTED_TREES = """expected one of these YOLO layouts:
  Ultralytics:  ROOT/data.yaml   (train: images/train2017, val: images/val2017, names: [...])
                ROOT/images/train2017/*.jpg   ROOT/labels/train2017/*.txt
                ROOT/images/val2017/*.jpg     ROOT/labels/val2017/*.txt
  plain:        ROOT/images/{train,val}/*.jpg   ROOT/labels/{train,val}/*.txt
                ROOT/data.yaml (names: [...]) or ROOT/classes.txt (one name per line)
  flat:         ROOT/images/*.jpg   ROOT/labels/*.txt   (every 10th image is val)"""


@dataclass
class YoloLayout:
    root: Path  # dataset root (the YAML's path:)
    labels: tuple[str, ...]
    yaml: Path | None  # the Ultralytics data.yaml, when that layout is used
    splits: dict  # split name -> what it names (folders / list files), for run.json and messages
    kpt_shape: tuple[int, int] | None = None

    def images(self, split: str) -> list[Path]:
        entries = self.splits.get(split)
        if entries is None:
            where = self.yaml or self.root
            raise AnnotationError(f"{where}: no {split!r} split; {EXPECTED_TREES}")
        if self.yaml is None:
            return _plain_images(self.root, split)
        files: list[Path] = []
        for entry in entries:
            files.extend(_entry_images(Path(entry), self.yaml, split))
        return files


def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last ``images`` folder of the path becomes ``labels``, the suffix ``.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")  # no images/ folder: the label file sits beside the image


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and is_image(p))


def _plain_images(root: Path, split: str) -> list[Path]:
    split_dir = root / "images" / split
    if split_dir.is_dir():
        return _images_in(split_dir, recursive=False)
    if (root / "images" / "train").is_dir():
        raise AnnotationError(f"{root}: images/train/ is there but not {split_dir}; {EXPECTED_TREES}\n{_found(root)}")
    files = _images_in(root / "images", recursive=False)
    return files[::VAL_EVERY] if split == "val" else [p for i, p in enumerate(files) if i % VAL_EVERY]


def _entry_images(entry: Path, yaml: Path, split: str) -> list[Path]:
    if entry.is_dir():
        files = _images_in(entry, recursive=True)
        if not files:
            raise AnnotationError(f"{yaml}: {split}: folder {entry} holds no images")
        return files
    if entry.is_file() and entry.suffix == ".txt":
        files = []
        for n, line in enumerate(entry.read_text().splitlines(), start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            path = Path(text) if Path(text).is_absolute() else entry.parent / text
            if not path.is_file():
                raise AnnotationError(f"{entry}: line {n}: image {path} does not exist (paths in a list are "
                                      f"relative to the list's folder)")
            files.append(path)
        if not files:
            raise AnnotationError(f"{yaml}: {split}: list {entry} names no image")
        return files
    raise AnnotationError(f"{yaml}: {split}: {entry} is neither a folder of images nor a .txt list of image "
                          f"paths (it does not exist)")


def _names(doc: dict, where: Path) -> tuple[str, ...]:
    names = doc.get("names")
    if isinstance(names, dict) and names and sorted(names) == list(range(len(names))):
        labels = tuple(str(names[i]) for i in range(len(names)))
    elif isinstance(names, list) and names:
        labels = tuple(str(n) for n in names)
    else:
        raise AnnotationError(f"{where}: 'names' is {names!r}; expected a list of class names or "
                              "{0: name, 1: name, ...} with ids 0..N-1")
    nc = doc.get("nc")
    if nc is not None and nc != len(labels):
        raise AnnotationError(f"{where}: nc: {nc} but names lists {len(labels)} classes; expected them to agree")
    return labels


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise AnnotationError(f"{path}: malformed YAML ({exc})") from exc
    if not isinstance(doc, dict):
        raise AnnotationError(f"{path}: expected a YAML mapping with names: (and train:/val:)")
    return doc


def _ultralytics(yaml_path: Path, doc: dict) -> YoloLayout:
    base = Path(doc.get("path") or ".").expanduser()
    tried = [base] if base.is_absolute() else [yaml_path.parent / base, Path.cwd() / base]
    root = next((p for p in tried if p.is_dir()), None)
    if root is None:  # relative: the YAML's folder first, then the working folder (no settings file is read)
        raise AnnotationError(f"{yaml_path}: path: {doc.get('path')!r} is no folder (looked for "
                              f"{' and '.join(str(p) for p in tried)})")
    splits = {}
    for split in ("train", "val"):
        value = doc.get(split)
        if value is None:
            raise AnnotationError(f"{yaml_path}: no {split}: entry; {EXPECTED_TREES}")
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise AnnotationError(f"{yaml_path}: {split}: {value!r}; expected a folder or list file "
                                  "(or a list of them)")
        splits[split] = [str(p if (p := Path(v).expanduser()).is_absolute() else root / p) for v in values]
    kpt = doc.get("kpt_shape")
    if kpt is not None and not (isinstance(kpt, list) and len(kpt) == 2 and kpt[1] in (2, 3)
                                and isinstance(kpt[0], int) and kpt[0] > 0):
        raise AnnotationError(f"{yaml_path}: kpt_shape: {kpt!r}; expected [keypoints, 2 or 3]")
    return YoloLayout(root.resolve(), _names(doc, yaml_path), yaml_path, splits,
                      tuple(kpt) if kpt is not None else None)


def _found(root: Path) -> str:
    """What ``root`` holds, two levels deep, with image counts, for the layout error."""
    if not root.is_dir():
        return f"{root} does not exist"
    lines = []
    for p in sorted(root.iterdir())[:20]:
        if p.is_dir():
            subs = [q for q in sorted(p.iterdir()) if q.is_dir()][:8]
            n = len(_images_in(p, recursive=False))
            inside = f"  with {', '.join(q.name + '/' for q in subs)}" if subs else ""
            lines.append(f"  {p.name}/  ({n} images){inside}")
        else:
            lines.append(f"  {p.name}")
    return "it holds:\n" + ("\n".join(lines) if lines else "  nothing")


def find_yolo_layout(data) -> YoloLayout:
    """The layout of ``--data`` (a folder, or an Ultralytics YAML file)."""
    data = Path(data)
    if data.is_file() and data.suffix in (".yaml", ".yml"):
        return _ultralytics(data.resolve(), _read_yaml(data))
    yaml_path = next((data / n for n in ("data.yaml", "data.yml") if (data / n).is_file()), None)
    doc = _read_yaml(yaml_path) if yaml_path else None
    if doc is not None and ("train" in doc or "val" in doc):
        return _ultralytics(yaml_path.resolve(), doc)
    if doc is not None:
        labels = _names(doc, yaml_path)
    elif (data / "classes.txt").is_file():
        labels = tuple(n.strip() for n in (data / "classes.txt").read_text().splitlines() if n.strip())
    else:
        raise AnnotationError(f"{data}: no data.yaml or classes.txt to name the classes; {EXPECTED_TREES}\n"
                              f"{_found(data)}")
    has_split_dirs = (data / "images" / "train").is_dir()
    flat = (data / "images").is_dir() and bool(_images_in(data / "images", recursive=False))
    if not has_split_dirs and not flat:
        subs = sorted(p.name for p in (data / "images").iterdir() if p.is_dir()) if (data / "images").is_dir() else []
        hint = (f"\nimages/ has {', '.join(s + '/' for s in subs)}: name the splits in {data / 'data.yaml'} "
                f"(train: images/{subs[0]}, val: images/...)" if subs else "")
        raise AnnotationError(f"{data}: no images/train/ folder and no images in images/; {EXPECTED_TREES}\n"
                              f"{_found(data)}{hint}")
    splits = ({s: [str(data / "images" / s)] for s in ("train", "val")} if has_split_dirs
              else {s: [str(data / "images")] for s in ("train", "val")})
    return YoloLayout(data.resolve(), labels, None, splits)
