"""Models unlike the detector: a layer tfmot's 8-bit scheme cannot quantise, and two outputs.

* QAT, PQAT and CQAT on a gated Multiply (as in LR-ASPP segmentation heads): the layer stays float in all three,
  the rest is quantised, nothing raises (tfmot 0.8.1's prune/cluster-preserving registries raised on it).
* A two-output model (pose: heatmaps and offsets) is fine-tuned on both outputs and keeps both names.
"""

from __future__ import annotations

import numpy as np
import pytest

from export.optimize import OptimizeOptions, optimize
from export.optimize.common import FineTune


@pytest.fixture(scope="module")
def gated():
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    x = keras.Input((32, 32, 3), name="image")
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(x)
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name="gap")(a)
    g = keras.layers.Conv2D(8, 1, activation="sigmoid", name="gate")(pooled)
    y = keras.layers.Conv2D(4, 1, name="logits")(keras.layers.Multiply(name="mul")([a, g]))
    images = np.random.default_rng(0).random((16, 32, 32, 3), dtype=np.float32)
    return keras.Model(x, y), images


@pytest.mark.parametrize("mode", ["qat", "pqat", "cqat"])
def test_unsupported_layer_stays_float(gated, mode):
    model, images = gated
    done = optimize(mode, model, images, OptimizeOptions(tune=FineTune(steps=4, batch_size=4), frequency=1,
                                                         prune_ramp=0.5, prune_dense_share=0.0))
    names = [layer.name for layer in done.model.layers]
    assert "mul" in names and "quant_c1" in names and "quant_logits" in names
    assert done.notes[0] == "float layers: mul"
    # CQAT: tfmot loses the clusters of the plain `logits` conv (its issue 1056); the export says so by name
    assert done.notes[1:] == (["clusters not kept through QAT in 1 of 3 clustered layers (more than 16 distinct "
                               "values; tfmot issue 1056): logits"] if mode == "cqat" else [])
    assert done.model.output_names == model.output_names


@pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
@pytest.mark.parametrize("mode", ["prune", "cluster", "qat"])
def test_two_output_models_are_fine_tuned_on_both_outputs(mode, as_dict):
    """Pose models have two outputs (heatmaps, offsets): distillation fits both, and both names survive."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    x = keras.Input((32, 32, 3), name="image")
    f = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="body")(x)
    heat = keras.layers.Conv2D(3, 1, activation="sigmoid", name="heatmaps")(f)
    off = keras.layers.Conv2D(6, 1, name="offsets")(f)
    model = keras.Model(x, {"heatmaps": heat, "offsets": off} if as_dict else [heat, off])  # pose: a dict
    images = np.random.default_rng(1).random((16, 32, 32, 3), dtype=np.float32)
    done = optimize(mode, model, images, OptimizeOptions(tune=FineTune(steps=4, batch_size=4), frequency=1,
                                                         prune_ramp=0.5, prune_dense_share=0.0))
    assert done.model.output_names == ["heatmaps", "offsets"]
    out = done.model.predict(images[:2], verbose=0)
    out = [out[n] for n in ("heatmaps", "offsets")] if isinstance(out, dict) else out
    assert [o.shape for o in out] == [(2, 32, 32, 3), (2, 32, 32, 6)]
