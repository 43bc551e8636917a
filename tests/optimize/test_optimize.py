"""Pruning, 2:4, clustering and QAT on a real tf_keras model: sparsity that survives export, untouched originals."""

from __future__ import annotations

import numpy as np
import pytest

from export.convert import convert, representative_from
from export.formats import FORMATS
from export.metadata import signature_outputs
from export.optimize import FineTune, OptimizeError, optimize, parse_modes
from export.optimize.cluster import ClusterConfig, cluster
from export.optimize.prune import PruneConfig, check_schedule, prune
from export.optimize.qat import QatConfig, quantize_aware
from export.optimize.sparsity import m_by_n_violations, tflite_sparsity
from export.parity import tflite_outputs

TUNE = FineTune(steps=12, batch_size=8)


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def test_prune_reaches_target_and_stays_sparse_after_export(model, images):
    before = _weights(model)
    result = prune(model, images, PruneConfig(0.5, frequency=4, tune=TUNE))
    assert result.achieved >= 0.49
    assert set(result.pruned_layers) == {"conv1", "conv2", "dense", "head"}
    assert result.firing_steps == (0, 4, 8)
    assert result.model.output_names == ["detections"]
    for before_w, after_w in zip(before, model.get_weights()):  # the user's model is untouched
        np.testing.assert_array_equal(before_w, after_w)
    for name in ("float32", "float16"):
        exported = tflite_sparsity(convert(result.model, FORMATS[name]))
        pruned = [layer for layer in exported.layers if layer.kind != "DEPTHWISE_CONV_2D"]
        zeros = sum(layer.zeros for layer in pruned) / sum(layer.weights for layer in pruned)
        assert zeros >= 0.49, (name, exported.table())
    dense = tflite_sparsity(convert(model, FORMATS["float32"]))
    assert dense.overall < 0.05  # the measurement can tell a dense model from a pruned one


def test_prune_2by4_pattern_holds(model, images):
    result = prune(model, images, PruneConfig(m_by_n=(2, 4), frequency=4, tune=TUNE))
    for layer in result.model.layers:
        if layer.name in result.pruned_layers:
            assert m_by_n_violations(layer.kernel.numpy(), 2, 4) == 0, layer.name
    dense_violations = m_by_n_violations(model.get_layer("conv2").kernel.numpy(), 2, 4)
    assert dense_violations > 0  # the check is not vacuous


@pytest.mark.parametrize("frequency, steps", [(50, 12), (12, 12)])
def test_a_schedule_that_never_fires_is_an_error(model, images, frequency, steps):
    with pytest.raises(OptimizeError, match=f"never fires: frequency {frequency} .*within the {steps} fine-tune steps"):
        prune(model, images, PruneConfig(0.5, frequency=frequency, tune=FineTune(steps=steps)))


def test_a_user_schedule_ending_after_the_fine_tune_is_an_error():
    import tensorflow_model_optimization as tfmot

    late = tfmot.sparsity.keras.PolynomialDecay(0.0, 0.5, begin_step=0, end_step=100, frequency=5)
    with pytest.raises(OptimizeError, match="reaches sparsity 0.*below the target 0.5"):
        check_schedule(late, 20, 0.5)


@pytest.mark.parametrize("sparsity", [0.0, 1.0, -0.2, 1.5])
def test_sparsity_outside_0_1_is_rejected(model, images, sparsity):
    with pytest.raises(OptimizeError, match=f"target sparsity {sparsity!r} must lie strictly between 0 and 1"):
        prune(model, images, PruneConfig(sparsity, tune=TUNE))


@pytest.mark.parametrize("text, bad", [("prune,quantum", "'quantum'"), ("", "no optimisation mode")])
def test_unknown_mode_is_rejected(text, bad):
    with pytest.raises(OptimizeError, match=bad):
        parse_modes(text)


def test_cluster_limits_distinct_values(model, images):
    result = cluster(model, images, ClusterConfig(clusters=8, tune=TUNE))
    for layer in result.report.layers:
        if layer.name in result.clustered_layers:
            assert layer.distinct <= 8
    assert result.model.output_names == ["detections"]


def test_qat_keeps_the_output_name_and_int8_stays_close_to_float(model, images):
    before = _weights(model)
    result = quantize_aware(model, images, QatConfig(tune=TUNE))
    assert result.model.output_names == ["detections"]
    for before_w, after_w in zip(before, model.get_weights()):
        np.testing.assert_array_equal(before_w, after_w)
    rep = representative_from(images[:16])
    qat_bytes = convert(result.model, FORMATS["int8_int8io"], rep)
    ptq_bytes = convert(model, FORMATS["int8_int8io"], rep)
    assert [o.key for o in signature_outputs(qat_bytes)] == ["detections"]
    reference = model.predict(images[16:24], verbose=0)
    for name, data in (("qat", qat_bytes), ("ptq", ptq_bytes)):
        diff = np.abs(tflite_outputs(data, images[16:24], ["detections"])["detections"] - reference)
        assert diff.mean() < 0.02 and diff.max() < 0.1, (name, diff.mean(), diff.max())


def test_pqat_preserves_sparsity_through_int8_export(model, images):
    from export.optimize import OptimizeOptions

    result = optimize("pqat", model, images, OptimizeOptions(sparsity=0.5, frequency=4, tune=TUNE))
    assert result.model.output_names == ["detections"]
    exported = tflite_sparsity(convert(result.model, FORMATS["int8"], representative_from(images[:16])))
    pruned = [layer for layer in exported.layers if layer.kind != "DEPTHWISE_CONV_2D"]
    assert sum(layer.zeros for layer in pruned) / sum(layer.weights for layer in pruned) >= 0.49, exported.table()


def test_pruning_ramp_ends_early_and_holds_the_final_sparsity(model, images):
    result = prune(model, images, PruneConfig(0.5, frequency=2, ramp=0.5, tune=FineTune(steps=12, batch_size=8)))
    assert result.firing_steps == (0, 2, 4, 6)  # the ramp ends at step 6 of 0..11; steps 7-11 hold 0.5
    assert result.achieved >= 0.49


def test_qat_activation_ranges_are_calibrated_not_left_at_plus_minus_6(model, images):
    result = quantize_aware(model, images, QatConfig(tune=FineTune(steps=2, batch_size=8)))
    ranges = {w.name: float(np.max(np.abs(w.numpy()))) for w in result.model.weights
              if w.name.split("/")[-1].startswith(("output_max", "output_min"))}
    assert ranges  # the QAT graph has activation range variables
    # two steps of tfmot's own EMA (decay 0.999) would leave every range within 0.02 of 6.0
    assert sum(abs(v - 6.0) > 0.1 for v in ranges.values()) >= len(ranges) // 2, ranges


def test_layers_kept_dense_make_the_others_sparser_so_the_overall_target_holds(model, images):
    # kernels: conv1 432, conv2 4608, dense 512, head 96 weights. A 10 % dense share keeps head + conv1 (528)
    # dense, skip keeps dense too, so conv2 alone carries the zeros of all four: 0.5 * 5648 / 4608 = 0.613
    cfg = PruneConfig(0.5, frequency=4, tune=TUNE, skip=("dense",), dense_share=0.1)
    result = prune(model, images, cfg)
    assert result.pruned_layers == ("conv2",)
    by_name = {layer.name: layer.sparsity for layer in result.report.layers}
    assert by_name["conv1"] == by_name["dense"] == by_name["head"] == 0.0
    assert by_name["conv2"] == pytest.approx(0.5 * 5648 / 4608, abs=0.005)
    assert result.achieved == pytest.approx(0.5, abs=0.005)
    exported = tflite_sparsity(convert(result.model, FORMATS["float32"]))
    kernels = [layer for layer in exported.layers if layer.kind != "DEPTHWISE_CONV_2D"]
    assert sum(layer.zeros for layer in kernels) / sum(layer.weights for layer in kernels) >= 0.49, exported.table()


def test_a_dense_share_of_zero_prunes_every_layer(model, images):
    """`--prune-dense-share 0` (test_cli_optimize.py checks the option reaches PruneConfig): no layer is kept
    dense, every Conv2D and Dense kernel is pruned to the target."""
    result = prune(model, images, PruneConfig(0.5, frequency=4, tune=TUNE, dense_share=0.0))
    assert set(result.pruned_layers) == {"conv1", "conv2", "dense", "head"}
    kernels = [layer for layer in result.report.layers if layer.kind != "DepthwiseConv2D"]
    assert kernels and all(layer.sparsity >= 0.45 for layer in kernels), result.report.table()


@pytest.mark.parametrize("cfg, message", [
    (PruneConfig(0.5, skip=("nope",)), r"skip names \['nope'\], which are not Conv2D/Dense layers"),
    (PruneConfig(0.5, skip=("conv2",), dense_share=0.5), "has no Conv2D or Dense layer to prune"),
    (PruneConfig(0.8, skip=("conv2",)), r"needs 4\.345 in the pruned ones \(more than 0\.9\)"),
    (PruneConfig(0.5, dense_share=1.0), r"dense_share 1\.0 must lie in \[0, 1\)"),
])
def test_bad_layer_choices_are_refused_by_name(model, images, cfg, message):
    with pytest.raises(OptimizeError, match=message):
        prune(model, images, cfg)


def test_cqat_names_the_kernels_whose_clusters_qat_did_not_keep():
    from export.optimize import clusters_lost
    from export.optimize.sparsity import LayerSparsity, SparsityReport

    report = SparsityReport((LayerSparsity("expand", "Conv2D", 96, 0, 16),
                             LayerSparsity("project", "Conv2D", 96, 0, 40),
                             LayerSparsity("dw", "DepthwiseConv2D", 27, 0, 27),
                             LayerSparsity("tiny", "Conv2D", 8, 0, 8)))
    assert clusters_lost(report, ("expand", "project"), 16) == [
        "clusters not kept through QAT in 1 of 2 clustered layers (more than 16 distinct values; tfmot issue 1056): "
        "project"]
    assert clusters_lost(report, ("expand",), 16) == []  # depthwise and too-small kernels are never clustered
