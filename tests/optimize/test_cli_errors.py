"""Bad input to `python -m export RUN --optimize/--target/--calib-samples`: one line naming the value."""

from __future__ import annotations

import pytest

from export.cli import main


@pytest.mark.parametrize("extra, message", [
    (["--target", "tpu9"], "unknown target 'tpu9'; valid targets: cpu, gpu, edgetpu, nnapi"),
    (["--optimize", "prune,shrink"], "unknown optimisation mode 'shrink'"),
    (["--optimize", "prune", "--sparsity", "1.0"], "--sparsity 1.0: expected a share strictly between 0 and 1"),
    (["--optimize", "prune", "--sparsity", "0"], "--sparsity 0.0: expected a share strictly between 0 and 1"),
    (["--formats", "int8", "--calib-samples", "3"], "--calib-samples 3 is too few; calibration needs at least 10"),
    (["--min-runtime", "2.9"], "--min-runtime '2.9' is unknown"),
    (["--optimize", "prune", "--prune-dense-share", "1.5"], "--prune-dense-share 1.5: expected a share in [0, 1)"),
])
def test_bad_options(tiny_run, tmp_path, capsys, extra, message):
    assert main([str(tiny_run), "--no-eval", "--out", str(tmp_path)] + extra) == 2
    assert message in capsys.readouterr().err


def test_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main([str(tmp_path), "--optimize", "prune"]) == 2
    assert f"{tmp_path} is not a run folder: missing run.json and model.keras" in capsys.readouterr().err
