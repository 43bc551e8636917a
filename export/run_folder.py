"""Read and check a training run folder (docs/contracts.md section 1) before anything is converted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RunFolderError

RUN_JSON = "run.json"
MODEL_FILE = "model.keras"

# field -> expected JSON type; nested dicts are checked with "parent.child" names in errors.
_TOP_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "task": str,
    "labels": list,
    "input": dict,
    "outputs": list,
    "decode": dict,
    "data": dict,
}
_INPUT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "width": int,
    "height": int,
    "channels": int,
    "color": str,
    "resize": str,
    "mean": list,
    "std": list,
}
_DATA_FIELDS: dict[str, type | tuple[type, ...]] = {"format": str, "train": str, "val": str}


@dataclass(frozen=True)
class Run:
    """What export needs from a run folder. ``spec`` is the parsed run.json, unchanged."""

    path: Path
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def task(self) -> str:
        return self.spec["task"]

    @property
    def labels(self) -> list[str]:
        return list(self.spec["labels"])

    @property
    def input(self) -> dict[str, Any]:
        return self.spec["input"]

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def export_dir(self) -> Path:
        return self.path / "export"


def _check_fields(obj: dict, fields: dict, where: str, prefix: str) -> None:
    for key, kind in fields.items():
        name = f"{prefix}{key}"
        if key not in obj:
            raise RunFolderError(f"{where}: missing field {name!r}")
        value = obj[key]
        # bool is an int in Python; a width of `true` is still wrong.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise RunFolderError(f"{where}: field {name!r} is {value!r}; expected a JSON {expected}")


def load_run(folder: str | Path) -> Run:
    """Open a run folder; raise RunFolderError naming the folder and what is missing or wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunFolderError(f"{folder} is not a run folder: it does not exist or is not a directory")
    run_json = folder / RUN_JSON
    missing = [n for n in (RUN_JSON, MODEL_FILE) if not (folder / n).exists()]
    if missing:
        raise RunFolderError(f"{folder} is not a run folder: missing {' and '.join(missing)}")
    try:
        spec = json.loads(run_json.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{run_json}: not valid JSON ({exc})") from exc
    if not isinstance(spec, dict):
        raise RunFolderError(f"{run_json}: expected a JSON object, got {type(spec).__name__}")
    _check_fields(spec, _TOP_FIELDS, str(run_json), "")
    _check_fields(spec["input"], _INPUT_FIELDS, str(run_json), "input.")
    _check_fields(spec["data"], _DATA_FIELDS, str(run_json), "data.")
    channels = spec["input"]["channels"]
    for key in ("mean", "std"):
        values = spec["input"][key]
        if len(values) != channels or not all(isinstance(v, (int, float)) for v in values):
            raise RunFolderError(f"{run_json}: field 'input.{key}' is {values!r}; expected {channels} numbers")
    if any(float(s) == 0.0 for s in spec["input"]["std"]):
        raise RunFolderError(f"{run_json}: field 'input.std' is {spec['input']['std']!r}; a std of 0 divides by 0")
    from train import tasks

    if spec["task"] not in tasks.names():
        raise RunFolderError(f"{run_json}: field 'task' is {spec['task']!r}; export supports "
                             f"{', '.join(tasks.names())}")
    if not spec["labels"] and tasks.get(spec["task"]).labelled:
        raise RunFolderError(f"{run_json}: field 'labels' is empty; expected one label per class")
    if not spec["outputs"] or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in spec["outputs"]):
        raise RunFolderError(f"{run_json}: field 'outputs' is {spec['outputs']!r}; expected a list of "
                             "{\"name\": ..., \"role\": ...} objects")
    return Run(path=folder.resolve(), spec=spec)
