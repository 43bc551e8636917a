"""The optimisation modes on the non-detection tasks, through the real export code path.

The fine-tune of every mode is task-agnostic (distillation from the trained model), so each task takes a
pruning-type mode and a quantisation-aware mode, and together the four tasks cover all six modes (detection
has its own tests in tests/optimize). One tiny synthetic run per task (trained by the real CLI), then
``export_run`` at a few fine-tune steps: each mode must produce its files, keep the task's metadata and output
roles, reach the requested sparsity where it prunes, and be scored through edge with the task's own metric.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.metadata import model_info
from edge.model_file import read_model_file
from export.formats import parse_formats
from export.optimize import MODES, OptimizeOptions
from export.optimize.common import FineTune
from export.optimize.prune import PRUNABLE
from export.pipeline import ExportOptions, export_run

from .task_cases import CASES

# the session fixture that trains one tiny run per task (and scores each through edge) is set up by
# the first test here: its budget covers that on a loaded 2-core host
pytestmark = pytest.mark.timeout(1500)


MODES_PER_TASK = {"classify": ["prune", "qat"], "segment": ["prune24", "cqat"], "pose": ["cluster", "pqat"],
                  "enhance": ["prune", "qat"]}


def test_the_tasks_cover_every_mode():
    assert {m for modes in MODES_PER_TASK.values() for m in modes} == set(MODES)


@pytest.fixture(scope="module", params=list(MODES_PER_TASK))
def optimized(request, trained_task_runs, tmp_path_factory):
    task = request.param
    _, roles, metric_keys, _ = CASES[task]
    options = ExportOptions(formats=parse_formats("int8"), calib_samples=10, parity_images=2, threads=1,
                            latency_runs=2, optimize=MODES_PER_TASK[task], out_dir=tmp_path_factory.mktemp(f"opt_{task}"),
                            optimize_options=OptimizeOptions(tune=FineTune(steps=6, batch_size=4, learning_rate=1e-3),
                                                             frequency=1, prune_ramp=0.5))
    return task, roles, metric_keys, export_run(trained_task_runs[task], options, log=lambda *_: None)


def test_every_mode_exports_and_scores_through_edge(optimized):
    task, roles, metric_keys, report = optimized
    got = {(r.variant, r.format) for r in report.formats}
    assert {(mode, "int8") for mode in MODES_PER_TASK[task]} <= got, f"{task}: a mode is missing its int8 file"
    for r in report.formats:
        info = model_info(read_model_file(r.path))
        assert info.task == task and [o.role for o in info.outputs] == roles, r.path
        assert set(r.metrics) == metric_keys and all(np.isfinite(v) for v in r.metrics.values()), r.path


def test_pruning_modes_reach_their_sparsity(optimized):
    task, _, _, report = optimized
    for mode, done in report.optimize.items():
        kernels = [layer for layer in done["layers"] if layer["kind"] in PRUNABLE]  # what pruning targets
        overall = sum(layer["zeros"] for layer in kernels) / max(1, sum(layer["weights"] for layer in kernels))
        if mode in ("prune", "pqat"):
            assert overall >= 0.49, (task, mode, done["notes"])
        elif mode == "prune24":
            assert overall >= 0.45, (task, mode, done["notes"])  # 2:4 in the layers that can take it
