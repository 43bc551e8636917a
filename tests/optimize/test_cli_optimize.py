"""`--optimize prune` through the CLI on a trained tiny run: the pruned file, the per-layer table, real zeros."""

from __future__ import annotations

import json

from export.cli import main
from export.optimize import PRUNE_DENSE_SHARE
from export.optimize.sparsity import tflite_sparsity


def test_prune_through_the_cli(trained_run, tmp_path, capsys):
    rc = main([str(trained_run), "--formats", "float32", "--optimize", "prune", "--sparsity", "0.5",
               "--finetune-steps", "8", "--prune-frequency", "2", "--calib-samples", "16", "--out", str(tmp_path),
               "--no-eval", "--parity-images", "2"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert (tmp_path / "model_prune_float32.tflite").is_file()
    assert "prune: weight sparsity" in printed
    assert "layer" in printed and "sparsity" in printed and "total" in printed
    report = json.loads((tmp_path / "export.json").read_text())
    layers = report["optimize"]["prune"]["layers"]
    assert layers and all(name in printed for name in (layer["name"][:32] for layer in layers))
    kernels = [layer for layer in layers if layer["kind"] != "DepthwiseConv2D"]
    assert sum(layer["zeros"] for layer in kernels) / sum(layer["weights"] for layer in kernels) >= 0.49
    # the default keeps the smallest layers (PRUNE_DENSE_SHARE of the weights) dense; the others prune harder
    dense = [layer for layer in kernels if layer["sparsity"] == 0.0]
    assert sum(layer["weights"] for layer in dense) <= PRUNE_DENSE_SHARE * sum(layer["weights"] for layer in kernels)
    assert dense, "the detector's first conv and output convs are among its smallest layers"
    assert max(layer["weights"] for layer in dense) <= min(layer["weights"] for layer in kernels if layer not in dense)
    assert min(layer["sparsity"] for layer in kernels if layer not in dense) > 0.5
    exported = tflite_sparsity((tmp_path / "model_prune_float32.tflite").read_bytes())
    flat = [layer for layer in exported.layers if layer.kind != "DEPTHWISE_CONV_2D"]
    assert sum(layer.zeros for layer in flat) / sum(layer.weights for layer in flat) >= 0.49
    dense = tflite_sparsity((tmp_path / "model_float32.tflite").read_bytes())
    assert dense.overall < 0.05


def test_prune_dense_share_zero_prunes_every_layer(trained_run, tmp_path, capsys):
    rc = main([str(trained_run), "--formats", "float32", "--optimize", "prune", "--sparsity", "0.5",
               "--prune-dense-share", "0", "--finetune-steps", "8", "--prune-frequency", "2", "--calib-samples", "16",
               "--out", str(tmp_path), "--no-eval", "--parity-images", "2"])
    assert rc == 0, capsys.readouterr().err
    layers = json.loads((tmp_path / "export.json").read_text())["optimize"]["prune"]["layers"]
    kernels = [layer for layer in layers if layer["kind"] != "DepthwiseConv2D"]
    assert kernels and all(layer["sparsity"] >= 0.45 for layer in kernels)
