"""The optimisation modes on the non-detection tasks, through the real export code path.

The fine-tune of every mode is task-agnostic (distillation from the trained model), so each task's export takes
one mode (task_cases.OPTIMIZE) and together they run every stage the six modes are made of on a real task
model: pruning then QAT, clustering, the 2:4 pattern, clustering then cluster-preserving QAT. One tiny run per
task (trained by the real CLI), exported once for the folder (conftest.exported_task_runs): the mode must produce
its files, keep the task's metadata and output roles, reach the requested sparsity or cluster count, and be
scored through edge with the task's own metric.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.metadata import model_info
from edge.model_file import read_model_file
from export.optimize import MODES, OptimizeOptions
from export.optimize.cluster import CLUSTERABLE
from export.optimize.prune import PRUNABLE
from export.optimize.sparsity import tflite_sparsity

from .task_cases import CASES, OPTIMIZE, exported_variants

# the session fixtures that train one tiny run per task and export it are set up by the first test that asks:
# its budget covers that on a loaded 2-core host
pytestmark = pytest.mark.timeout(1500)


def test_the_tasks_run_every_stage_of_the_modes():
    assert set(OPTIMIZE) == set(CASES) and set(OPTIMIZE.values()) <= set(MODES)
    assert set(OPTIMIZE.values()) == {"pqat", "cluster", "prune24", "cqat"}  # prune, qat: pqat's two stages


@pytest.mark.parametrize("task", list(CASES))
def test_the_mode_exports_and_scores_through_edge(exported_task_runs, task):
    _, report = exported_task_runs[task]
    roles, metric_keys = CASES[task][1], CASES[task][2]
    mode = OPTIMIZE[task]
    got = [(r.variant, r.format) for r in report.formats]
    assert got == exported_variants(task), task  # a QAT mode's model is exported as int8 only
    for r in report.formats:
        info = model_info(read_model_file(r.path))
        assert info.task == task and [o.role for o in info.outputs] == roles, r.path
        assert set(r.metrics) == metric_keys and all(np.isfinite(v) for v in r.metrics.values()), r.path
    optimised = next(r for r in report.formats if r.variant == mode and r.format == "int8")
    assert optimised.input["dtype"] == "uint8" and optimised.output["dtype"] == "int8"


@pytest.mark.parametrize("task", list(CASES))
def test_sparsity_and_clusters_hold_through_export(exported_task_runs, task):
    _, report = exported_task_runs[task]
    mode = OPTIMIZE[task]
    done = report.optimize[mode]
    kernels = [layer for layer in done["layers"] if layer["kind"] in PRUNABLE]  # what pruning and clustering target
    assert kernels, (task, done["notes"])
    overall = sum(layer["zeros"] for layer in kernels) / sum(layer["weights"] for layer in kernels)
    if mode == "pqat":
        assert overall >= 0.49, (task, mode, done["notes"])
    elif mode == "prune24":
        assert overall >= 0.45, (task, mode, done["notes"])  # 2:4 in the layers that can take it
        int8 = next(r for r in report.formats if r.variant == mode and r.format == "int8")
        flat = [layer for layer in tflite_sparsity(Path(int8.path).read_bytes()).layers
                if layer.kind != "DEPTHWISE_CONV_2D"]  # the zeros survive int8 conversion
        kept = sum(layer.zeros for layer in flat) / sum(layer.weights for layer in flat)
        assert kept >= 0.45, (int8.path, kept, overall)
    else:  # cluster, cqat: the clustered kernels keep at most the cluster count of distinct values
        clusters = OptimizeOptions().clusters
        big = [layer for layer in kernels if layer["kind"] in CLUSTERABLE and layer["weights"] > clusters]
        kept = [layer["name"] for layer in big if layer["distinct"] <= clusters]
        lost = [layer["name"] for layer in big if layer["distinct"] > clusters]
        assert kept, (task, mode, done["notes"])
        if mode == "cluster":  # no QAT after it: every clustered kernel keeps its clusters
            assert not lost and not any(n.startswith("clusters not kept") for n in done["notes"]), (lost, done)
        elif lost:  # cqat: tfmot's CQAT loses the clusters of some kernels (its issue 1056): the export says which
            (note,) = [n for n in done["notes"] if n.startswith("clusters not kept through QAT")]
            assert note.endswith(": " + ", ".join(lost)), note
        else:
            assert not any(n.startswith("clusters not kept") for n in done["notes"]), done["notes"]
