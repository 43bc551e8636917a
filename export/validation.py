"""The run's one validation figure, measured the way the device measures it.

The saved model (``model.keras``, the best epoch's) is converted to float32 TFLite exactly as
``python -m export`` converts it and scored on the whole validation split through edge (Engine + the task's
adapter + edge's metrics). The figure goes into run.json as ``validation``:

    {"format": "float32", "metric": "map50", "value": 0.8721, "metrics": {...}, "images": 87,
     "model_sha256": "<of model.keras>", "file": "export/model_float32.tflite"}

``python -m train`` ends with this (``export.pipeline.validate_run``) and prints it; ``python -m export`` scores the same float32 file with the
same code, says whether it matches and refreshes it; ``python -m export report`` shows it. Training's own
per-epoch validation (Keras, TensorFlow's image decoding and resizing) only chooses the best epoch; it can
differ from this in the third decimal and is kept in run.json as ``metrics`` with ``best``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import RunFolderError
from .run_folder import MODEL_FILE, RUN_JSON, load_run


def model_sha256(run_dir: str | Path) -> str:
    digest = hashlib.sha256()
    with open(Path(run_dir) / MODEL_FILE, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def validation_record(run_dir: str | Path, task: str, result) -> dict:
    """run.json's ``validation`` entry from the float32 FormatResult of an export of the whole split."""
    from train import tasks

    metric = tasks.get(task).headline(result.metrics)
    headline = metric.key if metric else None
    path = Path(result.path)
    try:
        shown = str(path.relative_to(Path(run_dir)))
    except ValueError:
        shown = str(path)
    return {"format": result.format, "metric": headline,
            "value": None if headline is None else round(float(result.metrics[headline]), 4),
            "metrics": {k: round(float(v), 4) for k, v in result.metrics.items()},
            "images": result.eval_images, "model_sha256": model_sha256(run_dir), "file": shown}


def write_validation(run_dir: str | Path, record: dict) -> None:
    from train.run_folder import write_json_atomic

    path = Path(run_dir) / RUN_JSON
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{path}: cannot read it back to add the validation figure ({exc})") from None
    run["validation"] = record
    write_json_atomic(path, run)


def recorded_validation(run_dir: str | Path) -> dict | None:
    """run.json's ``validation`` if it was measured on the model.keras that is there now, else None."""
    record = load_run(run_dir).spec.get("validation")
    if not isinstance(record, dict) or record.get("model_sha256") != model_sha256(run_dir):
        return None
    return record


def describe(record: dict, num_labels: int = 0) -> str:
    """One line: the headline figure and the rest, as run.json holds them (top-5 only above 5 classes)."""
    metrics = record.get("metrics", {})
    rest = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                     if k != record.get("metric") and not (k == "top5" and 0 < num_labels <= 5))
    head = f"{record['metric']} {record['value']:.4f}" if record.get("metric") else "no headline metric"
    return (f"{head} through the edge runtime ({record.get('format')} TFLite, {record.get('images')} validation "
            f"images{'; ' + rest if rest else ''})")
