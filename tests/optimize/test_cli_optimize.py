"""`--optimize prune` through the CLI on a trained tiny run: the pruned file, the per-layer table, real zeros."""

from __future__ import annotations

import json

import pytest

from export.cli import build_parser, optimize_options
from export.optimize import PRUNE_DENSE_SHARE, OptimizeError
from export.optimize.sparsity import tflite_sparsity


def test_prune_through_the_cli(pruned_export):
    rc, out, printed = pruned_export
    report = json.loads((out / "export.json").read_text())
    # exit 1 flags a parity gap, allowed only for an optimised variant (8 fine-tune steps); the trained model's own
    # files must match Keras
    gaps = [(f["variant"], f["format"]) for f in report["formats"] if not f["parity_ok"]]
    assert rc == (1 if gaps else 0) and all(variant for variant, _ in gaps), gaps
    assert {(f["variant"], f["format"]) for f in report["formats"]} == {
        ("", "float32"), ("", "int8"), ("prune", "float32"), ("prune", "int8")}
    assert (out / "model_prune_float32.tflite").is_file() and (out / "model_prune_int8.tflite").is_file()
    assert "prune: weight sparsity" in printed
    assert "layer" in printed and "sparsity" in printed and "total" in printed
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
    for name in ("model_prune_float32.tflite", "model_prune_int8.tflite"):  # the zeros survive conversion
        exported = tflite_sparsity((out / name).read_bytes())
        flat = [layer for layer in exported.layers if layer.kind != "DEPTHWISE_CONV_2D"]
        assert sum(layer.zeros for layer in flat) / sum(layer.weights for layer in flat) >= 0.49, name
    dense = tflite_sparsity((out / "model_float32.tflite").read_bytes())
    assert dense.overall < 0.05


@pytest.mark.parametrize("extra, share", [([], PRUNE_DENSE_SHARE), (["--prune-dense-share", "0"], 0.0),
                                          (["--prune-dense-share", "0.2"], 0.2)])
def test_prune_dense_share_reaches_the_prune_options(extra, share):
    """What --prune-dense-share 0 does to a model (every layer pruned) is tested on a small model in
    test_optimize.py; here, that the option is what the export's prune step receives."""
    args = build_parser().parse_args(["runs/x", "--optimize", "prune", "--sparsity", "0.6", "--finetune-steps", "8",
                                      *extra])
    opt = optimize_options(args)
    assert (opt.prune_dense_share, opt.sparsity, opt.tune.steps) == (share, 0.6, 8)


def test_a_dense_share_of_one_is_refused():
    args = build_parser().parse_args(["runs/x", "--optimize", "prune", "--prune-dense-share", "1"])
    with pytest.raises(OptimizeError, match=r"--prune-dense-share 1\.0 must lie in \[0, 1\)"):
        optimize_options(args)
