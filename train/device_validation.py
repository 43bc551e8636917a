"""The last step of ``python -m train``: the saved model scored once the way the device runs it.

``export.pipeline.validate_run`` converts model.keras to float32 TFLite as ``python -m export`` does and
scores the whole validation split through edge; run.json's ``validation`` then holds the one figure that
train prints here, export reproduces and the report shows (export/validation.py). Imported only by the
command layer, at the end of a run, so the training library itself never depends on export.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def score_saved_model(out: Path, keras_metrics: dict, seconds: float, num_labels: int = 0) -> int:
    """Score, print the run's summary line and return the command's exit code (1 when scoring failed:
    the model is saved, the figure is missing)."""
    from edge.errors import EdgeError
    from export.errors import ExportError
    from export.pipeline import validate_run
    from export.validation import describe

    from .epochs import shown_metrics

    trained = ", ".join(f"{k} {v:.4f}" for k, v in shown_metrics(keras_metrics, num_labels or None).items())
    try:
        record = validate_run(out, threads=os.cpu_count() or 1)
    except (ExportError, EdgeError) as exc:
        print(f"run folder {out}: {trained} (training's validation of the best epoch), {seconds:.0f} s", flush=True)
        print(f"error: the model is saved, but scoring it through the edge runtime failed: {exc}; "
              f"`python -m export {out}` retries it", file=sys.stderr)
        return 1
    print(f"run folder {out}: {describe(record, num_labels)}; run.json 'validation', what export and the report "
          f"show (training's own validation of the best epoch: {trained}), {seconds:.0f} s", flush=True)
    return 0
