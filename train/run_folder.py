"""The run folder (docs/contracts.md §1): run.json, model.keras, checkpoints/, history.jsonl."""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

RUN_FORMAT, RUN_VERSION = "edgevision-run", 1
INPUT_MEAN, INPUT_STD = [0.0, 0.0, 0.0], [255.0, 255.0, 255.0]


class RunFolderError(ValueError):
    """A run folder is missing a file or its run.json lacks a field."""


@dataclass
class RunPaths:
    root: Path

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def model(self) -> Path:
        return self.root / "model.keras"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def history(self) -> Path:
        return self.root / "history.jsonl"


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


RUN_FIELDS = ("labels", "input", "model", "outputs", "decode", "data")  # what a task's spec provides


def build_run_json(*, name: str, task: str, fields: dict, metrics: dict | None = None,
                   created: str | None = None) -> dict:
    """The run.json dict of any task (the one writer): the common header, the task's ``fields`` (its spec's
    run_fields(): RUN_FIELDS and any of its own, e.g. detection's ``augment``), then the metrics."""
    missing = [k for k in RUN_FIELDS if k not in fields]
    if missing:
        raise RunFolderError(f"task {task!r} did not provide run.json field(s) {missing}")
    return {"format": RUN_FORMAT, "version": RUN_VERSION, "name": name, "task": task,
            "created": created or utc_now(), **fields, "metrics": dict(metrics or {})}


def write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def append_history(paths: RunPaths, row: dict) -> None:
    with open(paths.history, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def read_history(paths: RunPaths) -> list[dict]:
    if not paths.history.exists():
        return []
    return [json.loads(line) for line in paths.history.read_text().splitlines() if line.strip()]


def truncate_history(paths: RunPaths, epochs_done: int) -> None:
    """Keep only rows of epochs already checkpointed (a resumed run rewrites what came later)."""
    rows = [r for r in read_history(paths) if int(r.get("epoch", 0)) <= epochs_done]
    paths.history.write_text("".join(json.dumps(r) + "\n" for r in rows))


REQUIRED_KEYS = ("format", "version", "name", "task", "labels", "input", "model", "outputs", "decode", "data")


def read_run_json(folder) -> dict:
    """Read and check a run folder's run.json (for export and tests)."""
    paths = RunPaths(Path(folder))
    if not paths.run_json.is_file():
        raise RunFolderError(f"{paths.run_json}: no run.json; expected a folder written by `python -m train`")
    try:
        run = json.loads(paths.run_json.read_text())
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{paths.run_json}: not valid JSON ({exc})") from exc
    missing = [k for k in REQUIRED_KEYS if k not in run]
    if missing:
        raise RunFolderError(f"{paths.run_json}: missing field(s) {missing}")
    if run["format"] != RUN_FORMAT or run["version"] != RUN_VERSION:
        raise RunFolderError(f"{paths.run_json}: format/version {run['format']!r}/{run['version']!r}; "
                             f"expected {RUN_FORMAT!r}/{RUN_VERSION}")
    return run


def has_checkpoint(root: Path) -> bool:
    """True once a run folder holds a checkpoint a --resume can continue from."""
    return (Path(root) / "checkpoints" / "checkpoint").is_file()


@contextmanager
def removed_on_failure(out, resume: bool, say=print):
    """A fresh run that fails (or is interrupted) before its first checkpoint leaves no half-made folder:
    what it wrote is removed (the folder too, when the run created it). A run that got as far as a
    checkpoint keeps it, and the note says how to continue; a --resume run is never touched."""
    root = Path(out)
    existed = root.exists()
    fresh = not resume and not (existed and root.is_dir() and any(root.iterdir()))
    try:
        yield
    except BaseException:
        if fresh and root.is_dir():
            if has_checkpoint(root):
                say(f"note: {root} keeps the checkpoints of the failed run; continue it with --resume")
            else:
                if existed:
                    for child in root.iterdir():
                        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
                else:
                    shutil.rmtree(root)
                say(f"note: removed the unfinished run folder {root} (the run failed before its first checkpoint)")
        raise
